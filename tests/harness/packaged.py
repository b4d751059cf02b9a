"""The `stack_factory` fixture's type: a `PackagedStack` on a broker URI, stopped at teardown."""

from typing import Callable

from devstack.processes import PackagedStack

StackFactory = Callable[..., PackagedStack]
