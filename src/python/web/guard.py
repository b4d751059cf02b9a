"""Who may call the API, and how often: API keys and per-client rate limits.

Keys live in a file (a Docker or Kubernetes secret), one ``name:key`` per line, so one
client's key can be revoked (its line deleted) without touching the others'; the file
is read again when it changes, at most once a second, so keys rotate without a restart.
A request names its key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; it
is compared with every known key in constant time, by digest, so neither a key nor
its length shows in the time an answer takes. Only a key's name is ever logged.

The rate limit is a token bucket per client (its key's name, else its address):
``RATE_LIMIT`` requests a second, bursts of ``RATE_BURST``. Past it a request is
answered 429 with ``Retry-After``; other clients are unaffected. At most
`MAX_TRACKED_CLIENTS` buckets are kept, the least recently seen dropped first.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from runtime.config import Settings
from web.errors import TOO_MANY_REQUESTS, UNAUTHORIZED, ErrorKind
from web.responses import JsonResponse, error_response

MAX_TRACKED_CLIENTS = 100_000
RELOAD_INTERVAL = 1.0  # seconds between looks at the keys file


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The keys in `path` (none: the API is open), by name."""

    def __init__(self, path: str) -> None:
        self.path = Path(path) if path else None
        self._keys: list[tuple[str, bytes]] = []
        self._stamp: tuple[int, int] | None = None
        self._looked_at = -math.inf
        self.refresh()

    @property
    def required(self) -> bool:
        return self.path is not None

    def refresh(self) -> None:
        """Read the file again if it changed (and a second has passed since the last look)."""
        now = time.monotonic()
        if self.path is None or now - self._looked_at < RELOAD_INTERVAL:
            return
        self._looked_at = now
        stat = os.stat(self.path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        keys = []
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, separator, key = line.partition(":")
            if not separator or not name.strip() or not key.strip():
                raise ValueError(f"{self.path}:{number}: expected name:key")
            keys.append((name.strip(), _digest(key.strip())))
        self._keys, self._stamp = keys, stamp

    def identify(self, environ: dict[str, Any]) -> str | None:
        """The name of the key the request presents, if it is a known one."""
        self.refresh()
        presented = environ.get("HTTP_X_API_KEY", "")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if authorization[:7].lower() == "bearer ":
            presented = authorization[7:].strip()
        if not presented:
            return None
        digest = _digest(presented)
        found = None
        for name, known in self._keys:  # every key, whichever matches: no early exit
            if hmac.compare_digest(digest, known):
                found = name
        return found


class RateLimiter:
    """Token buckets per client: `rate` requests a second, bursts of `burst` (0: off)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, client: str) -> int:
        """0 if `client` may make a request now (and it is counted), else the whole
        seconds until it may."""
        if self.rate <= 0:
            return 0
        now = time.monotonic()
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if len(self._buckets) >= MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            return 0
        self._buckets[client] = (tokens, now)
        return max(1, math.ceil((1 - tokens) / self.rate))


class Guard:
    """What an API route asks of a request before it runs: a known key, when keys are
    configured, and the caller within its rate."""

    def __init__(self, keys: ApiKeys, limiter: RateLimiter) -> None:
        self.keys = keys
        self.limiter = limiter

    def refusal(self, environ: dict[str, Any]) -> tuple[str | None, JsonResponse | None]:
        """The caller's key's name, and the answer that refuses the request (or None)."""
        name = None
        if self.keys.required:
            name = self.keys.identify(environ)
            if name is None:
                return None, error_response(
                    UNAUTHORIZED, "this API needs a valid API key",
                    [("WWW-Authenticate", 'Bearer realm="nameko-stack"')],
                )  # fmt: skip
        wait = self.limiter.retry_after(name or environ.get("REMOTE_ADDR", ""))
        if wait:
            return name, error_response(
                TOO_MANY_REQUESTS, f"over the rate limit; retry in {wait}s",
                [("Retry-After", str(wait))],
            )  # fmt: skip
        return name, None


def guard_errors(settings: Settings) -> tuple[ErrorKind, ...]:
    """What `Guard.refusal` answers under `settings`: a missing key only where keys are
    required, a wait only where a rate is set."""
    keys = (UNAUTHORIZED,) if settings.api_keys_file else ()
    return keys + ((TOO_MANY_REQUESTS,) if settings.rate_limit > 0 else ())
