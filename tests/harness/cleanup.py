"""The `cleanup` fixture's type: register a callback that runs at teardown."""

from collections.abc import Callable

Cleanup = Callable[[Callable[[], object]], None]
