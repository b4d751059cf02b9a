"""One lock on this machine's Docker engine, between the test processes Pants runs at once.

An engine that leaves a swarm disconnects every container from every attachable network,
and Compose 1.29 makes each project's network attachable: a Compose stack that is up while
the swarm test takes its swarm down loses its network, and its published ports refuse
connections (seen in CI). So Compose stacks hold the lock shared, any number at once, and
the swarm test holds it alone for as long as its swarm exists. The kernel releases it with
the process that held it, so a killed test leaves no stale lock.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from devstack.waiting import wait_for

LOCK_PATH = Path(tempfile.gettempdir()) / "nameko-stack-docker-engine.lock"
# The longest one holder keeps the others waiting: the swarm test, about 200 s in CI.
MAX_WAIT = 400
# For a module whose first test may wait: its own 300 s (pants.toml) and the wait.
waits_for_the_engine = pytest.mark.timeout(300 + MAX_WAIT)


def _acquired(lock_file: IO[str], operation: int) -> bool:
    try:
        fcntl.flock(lock_file, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def holding_engine(*, alone: bool) -> Iterator[None]:
    """Hold the engine shared with other Compose stacks, or `alone` (the swarm test)."""
    with open(LOCK_PATH, "a") as lock_file:
        operation = fcntl.LOCK_EX if alone else fcntl.LOCK_SH
        holder = "the Docker engine (another test holds harness.engine_lock)"
        wait_for(lambda: _acquired(lock_file, operation), MAX_WAIT, holder, interval=0.5)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
