"""Waiting on conditions (never on fixed sleeps) and finding free ports."""

from __future__ import annotations

import random
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
    """A loopback TCP port that nothing listens on right now, for a server to bind soon.

    It is taken from the ports just below the kernel's range for outgoing connections
    (``ip_local_port_range``): a port from that range can go to any client's connection
    between this check and the server's bind, and a broker then fails with
    ``eaddrinuse`` (seen in CI, beside a test opening thousands of connections).
    """
    low = _ephemeral_ports_start()
    for _ in range(200):
        port = random.randrange(max(1024, low - _PORTS_BELOW_EPHEMERAL), low)
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port below {low}")


_PORTS_BELOW_EPHEMERAL = 12_000


def _ephemeral_ports_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


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
