"""Checking a call's arguments against its method once per shape, not once per call.

Nameko's entrypoints check every call with ``inspect.getcallargs``, which rebuilds the
method's signature each time, a visible share of calc's CPU per request (see
docs/benchmark.md). Whether a call binds depends only on how many positional
arguments it has and which keywords it names, so a shape that bound once always binds.
"""

from __future__ import annotations

from typing import Any

from nameko.extensions import Entrypoint


class CheckedOncePerShape(Entrypoint):
    """An entrypoint mixin: Nameko's signature check, remembered per argument shape."""

    def check_signature(self, args: Any, kwargs: Any) -> None:
        shapes: set[tuple[int, frozenset[str]]] = self.__dict__.setdefault("_bound_shapes", set())
        shape = (len(args), frozenset(kwargs))
        if shape not in shapes:
            super().check_signature(args, kwargs)  # raises IncorrectSignature
            shapes.add(shape)
