"""Real locks for the libraries that lock around every update, in a process eventlet has
patched.

Patching turns ``threading.Lock`` into a green lock, which costs several times the real
one on every acquire. Where a library only ever holds its lock around a few assignments
(prometheus-client around a value, OpenTelemetry's SDK around a span's fields), nothing
yields while it is held, so no other green thread can wait for it, and the real lock is
exact. Their modules are given it before they make any lock.
"""

from __future__ import annotations

from types import ModuleType, SimpleNamespace

import eventlet


def use_real_locks(*modules: ModuleType) -> None:
    """Each module's ``Lock``/``RLock`` (as imported by name, or through its ``threading``)
    become the unpatched ones; the rest of its ``threading`` stays green."""
    real = eventlet.patcher.original("threading")
    for module in modules:
        for name in ("Lock", "RLock"):
            if hasattr(module, name):
                setattr(module, name, getattr(real, name))
        threading = getattr(module, "threading", None)
        if isinstance(threading, ModuleType):
            # A namespace over the patched module, with the real locks in front.
            names = {name: getattr(threading, name) for name in dir(threading)}
            setattr(module, "threading", SimpleNamespace(
                **{**names, "Lock": real.Lock, "RLock": real.RLock}
            ))  # fmt: skip
