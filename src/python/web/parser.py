"""Parsing HTTP/1.x requests with httptools (llhttp, the C parser under uvicorn).

`RequestParser` is fed the bytes of one connection and turns them into `Request`s with
their WSGI environs, built directly from the parsed head, with eventlet.wsgi's limits on
the request line and headers. What breaks a limit raises a `Refusal`: the server answers
it itself, before any app runs.
"""

from __future__ import annotations

import json
import sys
from collections import deque
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools

from runtime.request_id import new_request_id
from web.errors import (
    HEADER_TOO_LARGE,
    HTTP_VERSION_NOT_SUPPORTED,
    URI_TOO_LONG,
    HttpError,
)
from web.request import Request, RequestSource

# eventlet.wsgi's limits (MAX_REQUEST_LINE, MAX_HEADER_LINE, MAX_TOTAL_HEADER_SIZE).
MAX_REQUEST_LINE = 8192
MAX_HEADER_LINE = 8192
MAX_TOTAL_HEADER_SIZE = 65536


class Refusal(HttpError):
    """A request the server answers itself, e.g. ``Refusal(URI_TOO_LONG, ...)``: always
    with ``Connection: close``, so it has no headers of its own."""

    def response(self) -> bytes:
        """The whole answer: the API's JSON error body, a fresh request id, and close."""
        body = json.dumps({"error": {"code": self.code, "message": self.message}}) + "\n"
        return (
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Request-ID: {new_request_id()}\r\n"
            f"Connection: close\r\n\r\n{body}"
        ).encode("latin-1")


def unsupported_version() -> Refusal:
    return Refusal(HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.0 and HTTP/1.1 are supported")


class RequestParser:
    """The requests in one connection's bytes, in order (`ready`), as they are parsed.

    `source` is the connection each `Request` reads its body from and answers on;
    `environ` the WSGI keys every request of the connection shares.
    """

    def __init__(self, source: RequestSource, environ: dict[str, Any]) -> None:
        self._source = source
        self._environ = environ
        self._parser = httptools.HttpRequestParser(self)
        # Control characters in a header value reach the app, as with eventlet.wsgi: the
        # app replaces a bad X-Request-ID rather than refusing the request. Framing
        # (CRLF, Content-Length, Transfer-Encoding) stays strict.
        self._parser.set_dangerous_leniencies(lenient_headers=True)
        self.ready: deque[tuple[Request, dict[str, Any]]] = deque()  # heads not served yet
        self.current: Request | None = None  # whose body is being parsed
        self.in_head = False
        self._began = False  # a request began in the data being parsed
        self._partial_line = 0  # bytes of a header line not ended yet
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0

    @property
    def http_version(self) -> str:
        return str(self._parser.get_http_version())

    def feed(self, data: bytes) -> None:
        """Parse `data`. Raises `Refusal`, or httptools' errors for malformed HTTP."""
        self._began = False
        self._parser.feed_data(data)
        if self.in_head:
            self._measure_partial_line(data)

    def _measure_partial_line(self, data: bytes) -> None:
        """Refuse a header line that grows past the limit before it ends.

        httptools reports a header only once its line has ended, and buffers it until then.
        """
        newline = data.rfind(b"\n")
        if self._began and not self._headers:
            # That newline may be the previous request's: count from the next read on.
            self._partial_line = 0
        elif newline >= 0:
            self._partial_line = len(data) - newline - 1
        else:
            self._partial_line += len(data)
        if self._partial_line >= MAX_HEADER_LINE:
            raise Refusal(HEADER_TOO_LARGE, "a request header line is too long")

    # httptools callbacks: each runs inside feed_data.

    def on_message_begin(self) -> None:
        self.in_head = self._began = True
        self._url = b""
        self._headers = []
        self._header_bytes = 0

    def on_url(self, part: bytes) -> None:
        self._url += part
        # The request line is the method, the URL, " HTTP/1.1" and CRLF.
        if len(self._url) > MAX_REQUEST_LINE - 32:
            if len(self._parser.get_method()) + len(self._url) + 11 >= MAX_REQUEST_LINE:
                raise Refusal(URI_TOO_LONG, "the request line is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4
        if size >= MAX_HEADER_LINE:
            raise Refusal(HEADER_TOO_LARGE, "a request header line is too long")
        self._header_bytes += size
        if self._header_bytes > MAX_TOTAL_HEADER_SIZE:
            raise Refusal(HEADER_TOO_LARGE, "the request headers are too large")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise unsupported_version()
        environ = self._environ.copy()
        for name, value in self._headers:
            key = _ENVIRON_KEYS.get(name) or _environ_key(name)
            if key:
                text = value.rstrip(b" \t").decode("latin-1")
                environ[key] = environ[key] + "," + text if key in environ else text
        request = Request(self._source, environ, version, self._parser.should_keep_alive())
        url = self._url
        target = url.partition(b"#")[0] if b"#" in url else url
        path, _, query = target.partition(b"?")
        if path[:1] != b"/" and b"://" in path:  # absolute-form: http://host/path
            path = b"/" + path.split(b"://", 1)[1].partition(b"/")[2]
        environ["REQUEST_METHOD"] = request.method = self._parser.get_method().decode("ascii")
        environ["PATH_INFO"] = (unquote_to_bytes(path) if b"%" in path else path).decode("latin-1")
        environ["QUERY_STRING"] = query.decode("latin-1")
        environ["RAW_URI"] = environ["REQUEST_URI"] = request.raw_uri = url.decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/" + version
        self.current = request
        self.ready.append((request, environ))

    def on_body(self, data: bytes) -> None:
        current = self.current
        if current is not None and not current.discarding:
            current.buffer += data

    def on_message_complete(self) -> None:
        if self.current is not None:
            self.current.complete = True
            self.current = None


def connection_environ(sock: Any, address: Any, client: str) -> dict[str, Any]:
    """The WSGI environ keys shared by every request of one connection."""
    host, port = sock.getsockname()[:2]
    return {
        "SCRIPT_NAME": "",
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "REMOTE_ADDR": client,
        "REMOTE_PORT": str(address[1]) if isinstance(address, tuple) else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }


# Header names seen so far and their environ keys (None: not passed on), up to a bound.
_ENVIRON_KEYS: dict[bytes, str | None] = {}


def _environ_key(name: bytes) -> str | None:
    text = name.decode("latin-1")
    # Underscores would make X-Forwarded_For look like X-Forwarded-For: such headers are
    # dropped, as eventlet.wsgi, gunicorn and nginx do.
    key = None if "_" in text else text.upper().replace("-", "_")
    if key and key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_ENVIRON_KEYS) < 1024:
        _ENVIRON_KEYS[name] = key
    return key
