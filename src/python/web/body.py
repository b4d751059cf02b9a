"""Reading a JSON request body strictly and within bounds.

Python's ``json`` module is lenient where an API must not be: it accepts ``NaN`` and
``Infinity``, keeps the last of duplicate keys, and recurses until the interpreter
gives up. Each of those becomes a 400 here, as do invalid UTF-8 and integers too
long to convert; a body that grows past the limit while streaming (chunked
uploads carry no ``Content-Length``) is a 413, and a client too slow to send its
body is a 408.

The web app reads a body (`buffer_body`) in the connection's thread, before a worker
is taken: a client that sends its body slowly then holds one of ``MAX_CONNECTIONS``,
never one of the service's ``MAX_WORKERS``, and the handler parses it from memory.
"""

from __future__ import annotations

import io
import json
import socket
from typing import Any

import eventlet
from werkzeug.wrappers import Request

from web.errors import (
    INVALID_JSON,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    UNSUPPORTED_MEDIA_TYPE,
    HttpError,
)

JSON_BODY_ERRORS = (UNSUPPORTED_MEDIA_TYPE, INVALID_JSON, PAYLOAD_TOO_LARGE, REQUEST_TIMEOUT)
"""What `read_json` raises."""

# Sent when the rest of the body is not worth reading: the server then closes the
# connection instead of draining it.
_CLOSE = [("Connection", "close")]


def read_json(request: Request, max_bytes: int, timeout: float) -> Any:
    """Parse the request body as JSON, or raise the `HttpError` that says why not.

    The whole body must arrive within `timeout` seconds: a per-read socket timeout
    alone would let a client that drips a byte at a time hold the request forever.
    """
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise HttpError(UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    raw = read_body(request.environ, max_bytes, timeout)
    if not raw:
        raise HttpError(INVALID_JSON, "the request body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(INVALID_JSON, "the request body is not valid UTF-8") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise HttpError(INVALID_JSON, "the JSON document is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise HttpError(INVALID_JSON, f"the body is not valid JSON: {exc}") from None
    except ValueError as exc:
        # Our own rejections, and integers past Python's digit limit (CVE-2020-10735).
        reason = "an integer has too many digits" if "digits" in str(exc) else str(exc)
        raise HttpError(INVALID_JSON, f"the body is not valid JSON: {reason}") from None


def has_body(environ: dict[str, Any]) -> bool:
    return environ.get("CONTENT_LENGTH", "0") not in ("", "0") or (
        environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked"
    )


def buffer_body(environ: dict[str, Any], max_bytes: int, timeout: float) -> None:
    """Read the request body into memory, where ``wsgi.input`` then reads it from."""
    raw = read_body(environ, max_bytes, timeout)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def read_body(environ: dict[str, Any], max_bytes: int, timeout: float) -> bytes:
    """The whole body, within `max_bytes` and `timeout`, or the `HttpError` saying why not."""
    stream = environ["wsgi.input"]
    length = int(environ["CONTENT_LENGTH"]) if environ.get("CONTENT_LENGTH") else None
    try:
        with eventlet.Timeout(timeout, TimeoutError):
            body = _read_up_to(stream, length if length is not None else max_bytes + 1)
    except (TimeoutError, socket.timeout):
        raise HttpError(
            REQUEST_TIMEOUT, f"the request body did not arrive within {timeout:g}s", _CLOSE
        ) from None
    if len(body) > max_bytes:
        raise HttpError(
            PAYLOAD_TOO_LARGE, f"request bodies are limited to {max_bytes} bytes", _CLOSE
        )
    return body


def _read_up_to(stream: Any, size: int) -> bytes:
    """Read `size` bytes, or until the body ends (a chunked read returns a chunk at a time)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result
