"""`runtime.green.use_real_locks`: real locks in, everything else of ``threading`` as it was."""

from __future__ import annotations

import threading
from types import ModuleType

import eventlet

from runtime.green import use_real_locks

REAL = eventlet.patcher.original("threading")


def test_locks_by_name_and_through_threading_become_real_and_the_rest_stays() -> None:
    by_name = ModuleType("by_name")
    by_name.Lock = threading.Lock  # type: ignore[attr-defined]  # `from threading import Lock`
    through = ModuleType("through")
    through.threading = threading  # type: ignore[attr-defined]  # `import threading`
    use_real_locks(by_name, through)
    assert by_name.Lock is REAL.Lock
    assert through.threading.Lock is REAL.Lock
    assert through.threading.RLock is REAL.RLock
    assert through.threading.Thread is threading.Thread
    assert through.threading.Event is threading.Event
    assert threading.Lock is not None and "threading" not in vars(by_name)
