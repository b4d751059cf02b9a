"""JSON responses: the API's answers and its error bodies, as WSGI responses."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Union

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from web.errors import ErrorKind, HttpError


class JsonResponse:
    """A JSON body as a WSGI response.

    It sends what werkzeug's `Response` sends for the same body (status line, headers),
    without its general machinery (header objects, status parsing, iterator wrappers),
    which showed in the profile of every request.
    """

    __slots__ = ("status_code", "body", "headers")

    def __init__(self, status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.status_code = status
        self.body = (json.dumps(body, separators=(",", ":")) + "\n").encode()
        self.headers = [
            *headers,
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self.body))),
        ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response(_status_line(self.status_code), list(self.headers))
        return [self.body]


WsgiResponse = Union[Response, JsonResponse]

_STATUS_LINES: dict[int, str] = {}


def _status_line(status: int) -> str:
    """``"404 NOT FOUND"``: the status line werkzeug sends."""
    line = _STATUS_LINES.get(status)
    if line is None:
        reason = HTTP_STATUS_CODES.get(status, "unknown").upper()
        line = _STATUS_LINES[status] = f"{status} {reason}"
    return line


def error_response(
    kind: ErrorKind, message: str, headers: Iterable[tuple[str, str]] = ()
) -> JsonResponse:
    body = {"error": {"code": kind.code, "message": message}}
    return JsonResponse(kind.http_status, body, headers)


def from_http_exception(exc: HTTPException) -> JsonResponse:
    code = (exc.name or "error").lower().replace(" ", "_")
    headers = []
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers.append(("Allow", ", ".join(sorted(exc.valid_methods))))
    return error_response(ErrorKind(exc.code or 500, code), exc.description or exc.name, headers)


def from_http_error(exc: HttpError) -> JsonResponse:
    return error_response(exc.kind, exc.message, exc.headers)
