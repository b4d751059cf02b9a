"""An HTTP failure a handler raises, answered with the API's JSON error body."""

from __future__ import annotations

from typing import Iterable


class HttpError(Exception):
    """An HTTP failure with a machine-readable code, e.g. ``HttpError(415, ...)``."""

    def __init__(
        self, status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)
