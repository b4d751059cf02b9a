"""One lock on this machine's Docker engine, between the test processes Pants runs at once.

An engine that leaves a swarm disconnects every container from every attachable network,
and Compose 1.29 makes each project's network attachable: a Compose stack that is up while
the swarm test takes its swarm down loses its network, and its published ports refuse
connections (seen in CI). So Compose stacks hold the lock shared, any number at once, and
the swarm test holds it alone for as long as its swarm exists (a `harness.machine_lock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from harness.machine_lock import holding

# The longest one holder keeps the others waiting: the swarm test, about 200 s in CI.
MAX_WAIT = 400
# For a module whose first test may wait: its own 300 s (pants.toml) and the wait.
waits_for_the_engine = pytest.mark.timeout(300 + MAX_WAIT)


@contextmanager
def holding_engine(*, alone: bool) -> Iterator[None]:
    """Hold the engine shared with other Compose stacks, or `alone` (the swarm test)."""
    holder = "the Docker engine (another test holds harness.engine_lock)"
    with holding("docker-engine", shared=not alone, max_wait=MAX_WAIT, what=holder):
        yield
