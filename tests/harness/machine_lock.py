"""Locks on this machine between test processes: those Pants runs at once, and other
checkouts' runs. Each is flock(2) on a file in the temp directory, which the kernel
releases with the process that held it, so a killed test leaves no stale lock."""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from devstack.waiting import wait_for


def _acquired(lock_file: IO[str], operation: int) -> bool:
    try:
        fcntl.flock(lock_file, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def holding(name: str, *, shared: bool, max_wait: float, what: str) -> Iterator[None]:
    """Hold the lock `name`, `shared` with other shared holders or alone; fail after
    waiting `max_wait` seconds for `what` (the error says what was waited for)."""
    with open(Path(tempfile.gettempdir()) / f"nameko-stack-{name}.lock", "a") as lock_file:
        operation = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        wait_for(lambda: _acquired(lock_file, operation), max_wait, what, interval=0.5)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
