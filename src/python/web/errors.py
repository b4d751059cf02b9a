"""The failures the API answers, each defined once by its status and code, and the error
a handler raises to answer one.

The server, the app and the handlers refuse a request by naming one of these kinds, and
the gateway's OpenAPI document lists each operation's codes from the same kinds, so what
the API answers and what its document says cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

from runtime.errors import ServiceError


@dataclass(frozen=True)
class ErrorKind:
    """A failure by HTTP status and machine-readable code: ``ErrorKind(400, "invalid_json")``."""

    http_status: int
    code: str


# A kind, or a `ServiceError` class, which names its status and code in its class line.
Failure = Union[ErrorKind, type[ServiceError]]


def kind_of(failure: Failure) -> ErrorKind:
    if isinstance(failure, ErrorKind):
        return failure
    return ErrorKind(failure.http_status, failure.code)


class HttpError(Exception):
    """A refusal of one kind, with a message for people: ``HttpError(INVALID_JSON, ...)``."""

    def __init__(
        self, kind: ErrorKind, message: str, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = list(headers)

    @property
    def status(self) -> int:
        return self.kind.http_status

    @property
    def code(self) -> str:
        return self.kind.code


# The server answers these itself, before any app runs (`web.server`, `web.parser`).
BAD_REQUEST = ErrorKind(400, "bad_request")
URI_TOO_LONG = ErrorKind(414, "uri_too_long")
HEADER_TOO_LARGE = ErrorKind(431, "header_too_large")
HTTP_VERSION_NOT_SUPPORTED = ErrorKind(505, "http_version_not_supported")
TOO_MANY_CONNECTIONS = ErrorKind(503, "too_many_connections")
INTERNAL_ERROR = ErrorKind(500, "internal_error")
# The app answers these to any request, before its handler runs (`web.app`, `web.body`).
SHUTTING_DOWN = ErrorKind(503, "shutting_down")
PAYLOAD_TOO_LARGE = ErrorKind(413, "payload_too_large")
REQUEST_TIMEOUT = ErrorKind(408, "request_timeout")
# The guard answers these to the API's routes, when keys or a rate limit are set (`web.guard`).
UNAUTHORIZED = ErrorKind(401, "unauthorized")
TOO_MANY_REQUESTS = ErrorKind(429, "too_many_requests")
# Reading a JSON body answers these, besides a body too large or too slow (`web.body`).
UNSUPPORTED_MEDIA_TYPE = ErrorKind(415, "unsupported_media_type")
INVALID_JSON = ErrorKind(400, "invalid_json")

ANY_REQUEST = (
    BAD_REQUEST,
    URI_TOO_LONG,
    HEADER_TOO_LARGE,
    HTTP_VERSION_NOT_SUPPORTED,
    TOO_MANY_CONNECTIONS,
    INTERNAL_ERROR,
    SHUTTING_DOWN,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
)
"""What any request may be answered, whatever its route: a route that reads no body
still has one it was sent buffered, within the same limits."""
