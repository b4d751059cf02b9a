"""A lean HTTP/1.1 server for a WSGI app, on eventlet green sockets.

eventlet.wsgi parses every request through ``http.server`` and ``email.parser`` and
builds closures and timers for every response: about 0.3 ms of CPU per request, a
quarter of the gateway's. This server parses with httptools (llhttp, the C parser
under uvicorn), builds the WSGI environ directly, and sends a response in one
``sendall``.

It keeps what the gateway relied on in eventlet.wsgi: keep-alive (HTTP/1.0 only with
``Connection: keep-alive``) and pipelining, request bodies streamed through
``wsgi.input`` (chunked ones too, and ``Expect: 100-continue``), a socket timeout on
every read, and eventlet's limits on the request line and headers. What it refuses
itself, before the app runs, gets the API's JSON error body, a fresh ``X-Request-ID``
and ``Connection: close``.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from collections import deque
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import unquote_to_bytes

import eventlet
import httptools
from eventlet import greenio

from shared.http_request import Request
from shared.request_id import new_request_id

_log = logging.getLogger(__name__)

# eventlet.wsgi's limits (MAX_REQUEST_LINE, MAX_HEADER_LINE, MAX_TOTAL_HEADER_SIZE).
MAX_REQUEST_LINE = 8192
MAX_HEADER_LINE = 8192
MAX_TOTAL_HEADER_SIZE = 65536
_RECV_SIZE = 65536
# Response bytes gathered from the app's iterable before they are sent.
_SEND_SIZE = 65536

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Refusal(Exception):
    """A request the server answers itself, e.g. ``Refusal(414, "uri_too_long", ...)``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> bytes:
        body = json.dumps({"error": {"code": self.code, "message": self.message}}) + "\n"
        return (
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Request-ID: {new_request_id()}\r\n"
            f"Connection: close\r\n\r\n{body}"
        ).encode("latin-1")


class HttpServer:
    """Serves a WSGI app on accepted sockets, one green thread per connection."""

    def __init__(self, app: WsgiApp, timeout: float, access_log: bool = False) -> None:
        self.app = app
        self.timeout = timeout
        self.access_log = access_log
        self._connections: set[Connection] = set()

    def serve(self, sock: Any, address: Any) -> None:
        """Serve one connection until it closes. Never raises: a failure is logged."""
        connection = Connection(self, sock, address)
        self._connections.add(connection)
        try:
            connection.serve()
        except OSError:
            pass  # the client went away, or stalled past the timeout
        except (Exception, eventlet.Timeout):
            _log.warning("connection from %s failed", connection.client, exc_info=True)
        finally:
            self._connections.discard(connection)
            sock.close()

    def drain(self) -> None:
        """Close idle connections now, and busy ones once their response is sent."""
        for connection in list(self._connections):
            connection.drain()


class Connection:
    """One client connection: the httptools callbacks, and the request-response loop."""

    def __init__(self, server: HttpServer, sock: Any, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.client = address[0] if isinstance(address, tuple) else str(address)
        self.idle = True  # waiting for a request, none of it received: drain closes it
        self.closing = False
        self._parser = httptools.HttpRequestParser(self)
        # Control characters in a header value reach the app, as with eventlet.wsgi: the
        # app replaces a bad X-Request-ID rather than refusing the request. Framing
        # (CRLF, Content-Length, Transfer-Encoding) stays strict.
        self._parser.set_dangerous_leniencies(lenient_headers=True)
        # Parsed heads with their environs, in order, not yet served.
        self._ready: deque[tuple[Request, dict[str, Any]]] = deque()
        self._current: Request | None = None  # whose body the parser is reading
        self._in_head = False
        self._began = False  # a request began in the data being parsed
        self._partial_line = 0  # bytes of a header line not ended yet
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._ended = False  # no more requests: end of stream, or a parse error
        self._refusal: Refusal | None = None  # to send once the requests before it are served
        host, port = sock.getsockname()[:2]
        self._environ = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "REMOTE_ADDR": self.client,
            "REMOTE_PORT": str(address[1]) if isinstance(address, tuple) else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }

    def serve(self) -> None:
        self.sock.settimeout(self.server.timeout)
        # Responses go out in one write each; Nagle would hold back a pipelined second.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            ready = self._next_request()
            if ready is None:
                if self._refusal is not None:
                    self.sock.sendall(self._refusal.response())
                return
            if not self._respond(*ready):
                return

    def drain(self) -> None:
        self.closing = True
        if self.idle:
            greenio.shutdown_safe(self.sock)  # wakes the read with end of stream

    # The request loop.

    def _next_request(self) -> tuple[Request, dict[str, Any]] | None:
        deadline = 0.0
        while not self._ready:
            if self._ended or (self.closing and not self._in_head):
                return None
            if self._in_head:
                # A socket timeout bounds each read; this bounds the whole head.
                now = time.monotonic()
                deadline = deadline or now + self.server.timeout
                if now > deadline:
                    return None
            self.idle = not self._in_head
            try:
                self._receive()
            except OSError:
                return None  # reset, or idle past the timeout: close quietly
            finally:
                self.idle = False
        return self._ready.popleft()

    def _receive(self) -> None:
        """Read once from the socket and parse what came; a parse error ends the stream."""
        data = self.sock.recv(_RECV_SIZE)
        if not data:
            self._ended = True
            return
        self._began = False
        try:
            self._parser.feed_data(data)
            if self._in_head:
                self._measure_partial_line(data)
        except httptools.HttpParserUpgrade:
            # llhttp hands the bytes after an Upgrade request's head to the new protocol.
            # This server speaks only HTTP/1.x: it answers the request, then closes.
            self._ended = self.closing = True
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, Refusal):
                raise exc.__context__ or exc
            self._refuse(exc.__context__)
        except httptools.HttpParserError as exc:
            if self._parser.get_http_version() not in ("0.0", "1.0", "1.1"):
                self._refuse(_unsupported_version())
            else:
                self._refuse(Refusal(400, "bad_request", f"malformed request: {exc}"))
        except Refusal as refusal:
            self._refuse(refusal)

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
            raise Refusal(431, "header_too_large", "a request header line is too long")

    def _refuse(self, refusal: Refusal) -> None:
        self._ended = True
        current = self._current
        if current is None or current is (self._ready[-1][0] if self._ready else None):
            # The bad request is not being served yet: refuse it in its turn.
            if current is not None:
                self._ready.pop()
            self._refusal = refusal
        else:
            current.failed = True  # its body ends here; the app sees it cut short

    def _respond(self, request: Request, environ: dict[str, Any]) -> bool:
        """Run the app for one request and send its answer; False to close the connection."""
        started = time.monotonic() if self.server.access_log else 0.0
        result: Any = None
        try:
            result = self.server.app(environ, request.start_response)
            chunks: list[bytes] = []
            size = 0
            for data in result:
                if data:
                    chunks.append(data)
                    size += len(data)
                    if size >= _SEND_SIZE:
                        request.send(chunks, final=False)
                        chunks, size = [], 0
            request.send(chunks, final=True)
        except (Exception, eventlet.Timeout):
            _log.error("the WSGI app failed on %s", request.raw_uri, exc_info=True)
            if not request.head_sent:
                error = Refusal(500, "internal_error", "the request failed unexpectedly")
                self.sock.sendall(error.response())
            return False
        finally:
            if hasattr(result, "close"):
                result.close()
        if self.server.access_log:
            request.log(time.monotonic() - started)
        return not request.close and (request.complete or self._discard_rest(request))

    def _discard_rest(self, request: Request) -> bool:
        """Read past what the app left of the body; False if that is not worth it."""
        request.buffer = bytearray()
        request.discarding = True
        deadline = time.monotonic() + self.server.timeout
        try:
            while not request.complete:
                if request.failed or self._ended or time.monotonic() > deadline:
                    return False
                self._receive()
        except OSError:
            return False
        return True

    def fill(self, request: Request, size: int) -> None:
        """Receive until `request` has `size` body bytes buffered, or its body ended."""
        if request.expect_continue:
            request.expect_continue = False
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            while len(request.buffer) < size and not request.complete and not request.failed:
                if self._ended:
                    request.failed = True  # the client closed mid-body
                    break
                self._receive()
        except BaseException as exc:
            # e.g. socket.timeout, or the app's own deadline: the rest of the body is
            # unknown now, so the connection cannot carry another request.
            request.error = exc
            request.close = True
            raise

    # httptools callbacks: each runs inside feed_data.

    def on_message_begin(self) -> None:
        self._in_head = self._began = True
        self._url = b""
        self._headers = []
        self._header_bytes = 0

    def on_url(self, part: bytes) -> None:
        self._url += part
        # The request line is the method, the URL, " HTTP/1.1" and CRLF.
        if len(self._url) > MAX_REQUEST_LINE - 32:
            if len(self._parser.get_method()) + len(self._url) + 11 >= MAX_REQUEST_LINE:
                raise Refusal(414, "uri_too_long", "the request line is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4
        if size >= MAX_HEADER_LINE:
            raise Refusal(431, "header_too_large", "a request header line is too long")
        self._header_bytes += size
        if self._header_bytes > MAX_TOTAL_HEADER_SIZE:
            raise Refusal(431, "header_too_large", "the request headers are too large")
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._in_head = False
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise _unsupported_version()
        environ = self._environ.copy()
        for name, value in self._headers:
            key = _ENVIRON_KEYS.get(name) or _environ_key(name)
            if key:
                text = value.rstrip(b" \t").decode("latin-1")
                environ[key] = environ[key] + "," + text if key in environ else text
        request = Request(self, environ, version, self._parser.should_keep_alive())
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
        self._current = request
        self._ready.append((request, environ))

    def on_body(self, data: bytes) -> None:
        current = self._current
        if current is not None and not current.discarding:
            current.buffer += data

    def on_message_complete(self) -> None:
        if self._current is not None:
            self._current.complete = True
            self._current = None


def _unsupported_version() -> Refusal:
    return Refusal(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported")


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
