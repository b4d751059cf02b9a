"""The ports the services listen on when no setting names one, as their mains pass them
to `launch.boot.run` (what the README, the deploy files and the scrape configs state), and
the lock that lets one test at a time on this machine run the services with them."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest

import calc.main
import log.main
from harness.cleanup import Cleanup
from harness.machine_lock import holding
from harness.prerequisites import missing

METRICS_PORTS = {"calc": calc.main.METRICS_PORT, "log": log.main.METRICS_PORT}
# The longest one holder keeps the others waiting: ./stack's embedded test.
MAX_WAIT = 300
# For a module whose test may wait: its own 300 s (pants.toml) and the wait.
waits_for_the_default_ports = pytest.mark.timeout(300 + MAX_WAIT)


def hold_default_ports(cleanup: Cleanup) -> None:
    """The default ports for this test alone, until its cleanup has stopped what it starts
    after this call (callbacks run last-in first-out).

    Other tests that run the services with their defaults, here or in another checkout,
    wait for them; a port that some other program holds is a missing prerequisite.
    """
    held = ExitStack()
    what = "the services' default ports (another test holds harness.default_ports)"
    held.enter_context(holding("default-ports", shared=False, max_wait=MAX_WAIT, what=what))
    cleanup(held.close)
    taken = [port for port in METRICS_PORTS.values() if not _listenable(port)]
    if taken:
        missing(f"another program (an embedded stack? ./stack down) listens on {taken}, "
                "the services' default METRICS_PORTs")  # fmt: skip


def _listenable(port: int) -> bool:
    # As the service will listen: on every address, with SO_REUSEADDR (which a port that
    # the last holder's connections leave in TIME_WAIT does not stop).
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
            sock.listen()
        except OSError:
            return False
        return True
