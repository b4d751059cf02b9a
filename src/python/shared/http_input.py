"""Reading a JSON request body strictly and within bounds.

Python's ``json`` module is lenient where an API must not be: it accepts ``NaN`` and
``Infinity``, keeps the last of duplicate keys, and recurses until the interpreter
gives up. Each of those becomes a 400 here, as do invalid UTF-8 and integers too
long to convert; a body that grows past the limit while streaming (chunked
uploads carry no ``Content-Length``) is a 413, and a client too slow to send its
body is a 408.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from werkzeug.wrappers import Request

from shared.web import HttpError

# Sent when the rest of the body is not worth reading: the server then closes the
# connection instead of draining it.
_CLOSE = [("Connection", "close")]


def read_json(request: Request, max_bytes: int) -> Any:
    """Parse the request body as JSON, or raise the `HttpError` that says why not."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise HttpError(415, "unsupported_media_type", "send the body as application/json")
    raw = _read_body(request, max_bytes)
    if not raw:
        raise HttpError(400, "invalid_json", "the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "invalid_json", "the request body is not valid UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise HttpError(400, "invalid_json", "the JSON document is nested too deeply") from None
    except ValueError as exc:
        # JSONDecodeError, our own rejections, and ints past Python's digit limit.
        raise HttpError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None


def _read_body(request: Request, max_bytes: int) -> bytes:
    stream = request.environ["wsgi.input"]
    length = request.content_length
    try:
        if length is not None:
            return bytes(stream.read(length))
        body = stream.read(max_bytes + 1)
    except socket.timeout:
        raise HttpError(
            408, "request_timeout", "the request body arrived too slowly", _CLOSE
        ) from None
    if len(body) > max_bytes:
        raise HttpError(
            413, "payload_too_large", f"request bodies are limited to {max_bytes} bytes", _CLOSE
        )
    return bytes(body)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result
