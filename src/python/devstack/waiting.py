"""Waiting on conditions (never on fixed sleeps) and finding free ports."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def answers_ok(url: str, timeout: float = 2) -> bool:
    """True if `url` answers 200 now; False if it answers otherwise or not at all."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1", reuse_address: bool = False) -> bool:
    """True if nothing listens on `host:port` and it can be bound: `reuse_address` as a
    server binds it (eventlet's does), which connections left in TIME_WAIT do not stop."""
    with socket.socket() as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
