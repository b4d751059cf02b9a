"""Steady HTTP load for fault tests: bounded in time and count, outcomes recorded."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import eventlet
import requests


@dataclass
class LoadResult:
    """What each request of a load run came to: ``200``, ``"503 <error code>"``, or the
    name of the exception the client raised."""

    outcomes: Counter[str] = field(default_factory=Counter)
    request_ids: list[str] = field(default_factory=list)
    # (time.monotonic() when it was known, outcome), in that order.
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def last_failure_after(self, started: float, within: float) -> float | None:
        """Seconds from `started` to the last failure in the `within` seconds after it."""
        failures = [t for t, outcome in self.timeline
                    if outcome != "200" and started <= t <= started + within]  # fmt: skip
        return failures[-1] - started if failures else None

    @property
    def ok(self) -> int:
        return self.outcomes["200"]

    @property
    def failed(self) -> int:
        return sum(self.outcomes.values()) - self.ok


RETRY_ELSEWHERE = {"ConnectionError", "503 shutting_down"}
UNREACHABLE = {"ConnectionError", "ReadTimeout"}
EJECT_SECONDS = 5.0


class SteadyLoad:
    """`clients` green threads sending ``GET /sum`` until stopped, a deadline, or a cap.

    Each client uses its own keep-alive session; a request is counted once its answer
    (or its error) is known, so `stop()` waits for the requests in flight.

    Given `failover_urls`, a client acts as a load balancer in front of several gateways
    would: a request refused by one (port closed, or shutting down) is retried on the
    next, and counted by its final outcome; a gateway that did not answer at all is
    passed over for a few seconds (a balancer's passive health check).
    """

    def __init__(self, base_url: str, clients: int = 8, max_seconds: float = 30,
                 max_requests: int = 5000, timeout: float = 10,
                 failover_urls: tuple[str, ...] = (), label: str = "load") -> None:  # fmt: skip
        self.base_url = base_url
        self._label = label
        self._urls = (base_url, *failover_urls)
        self._ejected_until = dict.fromkeys(self._urls, 0.0)
        self.result = LoadResult()
        self._deadline = time.monotonic() + max_seconds
        self._budget = max_requests
        self._timeout = timeout
        self._stopping = False
        self._pool = eventlet.GreenPool(clients)
        for client in range(clients):
            self._pool.spawn(self._client, client)

    def _client(self, client: int) -> None:
        sessions = {url: requests.Session() for url in self._urls}
        sent = 0
        while not self._stopping and self._budget > 0 and time.monotonic() < self._deadline:
            self._budget -= 1
            request_id = f"{self._label}-{client}-{sent}"
            sent += 1
            for url in self._candidates(sent):
                outcome = self._send(sessions, url, f"/sum?numbers={sent},1", request_id)
                if outcome in UNREACHABLE:
                    self._ejected_until[url] = time.monotonic() + EJECT_SECONDS
                if outcome not in RETRY_ELSEWHERE:
                    break
            self.result.outcomes[outcome] += 1
            self.result.timeline.append((time.monotonic(), outcome))
            if outcome == "200":
                self.result.request_ids.append(request_id)

    def _candidates(self, sent: int) -> list[str]:
        """The gateways to try, in turn: spread over the healthy ones, ejected ones last."""
        first = sent % len(self._urls)
        turn = self._urls[first:] + self._urls[:first]
        now = time.monotonic()
        return sorted(turn, key=lambda url: self._ejected_until[url] > now)

    def _send(
        self, sessions: dict[str, requests.Session], url: str, path: str, request_id: str
    ) -> str:
        try:
            response = sessions[url].get(
                url + path, headers={"X-Request-ID": request_id}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            sessions[url] = requests.Session()
            return (
                "ConnectionError"
                if isinstance(exc, requests.ConnectionError)
                else type(exc).__name__
            )
        if response.status_code == 200:
            return "200"
        try:
            return f"{response.status_code} {response.json()['error']['code']}"
        except (ValueError, KeyError, TypeError):
            # Not the gateway's JSON error: an outcome of its own (which no test allows),
            # not an exception that would end this client's green thread unseen.
            return f"{response.status_code} without a JSON error: {response.text[:80]!r}"

    def wait_for_requests(self, count: int, timeout: float = 30) -> None:
        """Block until at least `count` requests have been answered."""
        deadline = time.monotonic() + timeout
        while sum(self.result.outcomes.values()) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.result.outcomes} after {timeout}s")
            eventlet.sleep(0.05)

    def finish(self) -> LoadResult:
        """Let the clients run until their deadline or the request cap."""
        self._pool.waitall()
        return self.result

    def stop(self) -> LoadResult:
        """Stop sending; return once the requests in flight are answered."""
        self._stopping = True
        return self.finish()
