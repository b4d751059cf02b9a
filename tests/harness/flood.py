"""A flood of TCP connections from one thread: many opened, each held until the server
closes it, and what the server said to each recorded.

The thread is a real one, on the modules eventlet's monkey patch replaced (tests run
under it): a green flood would run only while the test's own requests wait, and
eventlet's green select is not made for thousands of sockets.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass, field
from typing import Any

from eventlet import patcher

select = patcher.original("select")
socket = patcher.original("socket")
threading = patcher.original("threading")


@dataclass
class FloodResult:
    opened: int = 0
    refused: int = 0  # answered 503 and closed
    closed: int = 0  # closed with no answer (its place taken by a newer one)
    other: list[bytes] = field(default_factory=list)  # the first few other answers
    seconds_to_refusal: list[float] = field(default_factory=list)
    most_held: int = 0  # the most connections this side held open at once


class ConnectionFlood:
    """Opens `total` connections to `address`, `rate` a second (at most `connecting`
    at a time), and sends `payload` (none: idle connections) on each. Each is held until
    the server closes it; at most `max_held` at once, and the flood stops after
    `max_seconds`.
    """

    def __init__(self, address: tuple[str, int], total: int, rate: float,
                 payload: bytes = b"", connecting: int = 200, max_held: int = 5000,
                 max_seconds: float = 120) -> None:  # fmt: skip
        self.address = address
        self.total = total
        self.rate = rate
        self.payload = payload
        self.connecting = connecting
        self.max_held = max_held
        self.max_seconds = max_seconds
        self.result = FloodResult()
        self.done = threading.Event()
        self._stop = threading.Event()
        self._epoll = select.epoll()
        self._held: dict[int, tuple[Any, float]] = {}  # sockets by fd, with when opened
        self._connecting: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)

    def start(self) -> ConnectionFlood:
        self._thread.start()
        return self

    def stop(self) -> FloodResult:
        """Stop opening, close what is held, and return what happened."""
        self._stop.set()
        self._thread.join(30)
        return self.result

    def _run(self) -> None:
        started = time.monotonic()
        try:
            while not self._stop.is_set() and time.monotonic() < started + self.max_seconds:
                self.result.most_held = max(self.result.most_held, len(self._held))
                due = min(self.total, int((time.monotonic() - started) * self.rate) + 1)
                while (self.result.opened < due and len(self._connecting) < self.connecting
                       and len(self._held) < self.max_held):  # fmt: skip
                    self._open()
                for fd, _ in self._epoll.poll(0.01):
                    if fd in self._connecting:
                        self._connected(fd)
                    else:
                        self._readable(fd)
                if self.result.opened >= self.total and not self._connecting:
                    self.done.set()
        finally:
            for sock, _ in self._held.values():
                sock.close()
            self._epoll.close()
            self.done.set()

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        error = sock.connect_ex(self.address)
        if error not in (0, errno.EINPROGRESS):
            sock.close()
            raise OSError(error, f"connecting to {self.address}")
        self.result.opened += 1
        self._held[sock.fileno()] = (sock, time.monotonic())
        self._connecting.add(sock.fileno())
        self._epoll.register(sock.fileno(), select.EPOLLOUT)

    def _connected(self, fd: int) -> None:
        self._connecting.discard(fd)
        sock, _ = self._held[fd]
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self._forget(fd)
            raise OSError(error, f"connecting to {self.address}")
        if self.payload:
            sock.send(self.payload)
        self._epoll.modify(fd, select.EPOLLIN)

    def _readable(self, fd: int) -> None:
        sock, opened_at = self._held[fd]
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        self._forget(fd)
        if not data:
            self.result.closed += 1
        elif data.startswith(b"HTTP/1.1 503 ") and b"too_many_connections" in data:
            self.result.refused += 1
            self.result.seconds_to_refusal.append(time.monotonic() - opened_at)
        elif len(self.result.other) < 3:
            self.result.other.append(data[:200])

    def _forget(self, fd: int) -> None:
        sock, _ = self._held.pop(fd)
        self._epoll.unregister(fd)
        sock.close()
