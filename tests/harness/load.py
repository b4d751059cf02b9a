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

    @property
    def ok(self) -> int:
        return self.outcomes["200"]

    @property
    def failed(self) -> int:
        return sum(self.outcomes.values()) - self.ok


class SteadyLoad:
    """`clients` green threads sending ``GET /sum`` until stopped, a deadline, or a cap.

    Each client uses its own keep-alive session; a request is counted once its answer
    (or its error) is known, so `stop()` waits for the requests in flight.
    """

    def __init__(self, base_url: str, clients: int = 8, max_seconds: float = 30,
                 max_requests: int = 5000, timeout: float = 10) -> None:  # fmt: skip
        self.base_url = base_url
        self.result = LoadResult()
        self._deadline = time.monotonic() + max_seconds
        self._budget = max_requests
        self._timeout = timeout
        self._stopping = False
        self._pool = eventlet.GreenPool(clients)
        for client in range(clients):
            self._pool.spawn(self._client, client)

    def _client(self, client: int) -> None:
        session = requests.Session()
        sent = 0
        while not self._stopping and self._budget > 0 and time.monotonic() < self._deadline:
            self._budget -= 1
            request_id = f"load-{client}-{sent}"
            sent += 1
            try:
                response = session.get(
                    f"{self.base_url}/sum?numbers={sent},1",
                    headers={"X-Request-ID": request_id},
                    timeout=self._timeout,
                )
                outcome = str(response.status_code)
                if response.status_code != 200:
                    outcome += " " + response.json()["error"]["code"]
            except requests.RequestException as exc:
                outcome = type(exc).__name__
                session = requests.Session()
            self.result.outcomes[outcome] += 1
            if outcome == "200":
                self.result.request_ids.append(request_id)

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
