"""A lean HTTP/1.1 server for a WSGI app, on eventlet green sockets.

eventlet.wsgi parses every request through ``http.server`` and ``email.parser`` and
builds closures and timers for every response, a large share of the gateway's CPU per
request (see docs/benchmark.md). This server parses with httptools
(`web.parser`), builds the WSGI environ directly, and sends a response in one
``sendall``.

It keeps what the gateway relied on in eventlet.wsgi: keep-alive (HTTP/1.0 only with
``Connection: keep-alive``) and pipelining, request bodies streamed through
``wsgi.input`` (chunked ones too, and ``Expect: 100-continue``), a socket timeout on
every read, and eventlet's limits on the request line and headers. What it refuses
itself, before the app runs, gets the API's JSON error body, a fresh ``X-Request-ID``
and ``Connection: close``.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable

import eventlet
import httptools
from eventlet import greenio
from prometheus_client import Counter, Gauge

from web.errors import BAD_REQUEST, INTERNAL_ERROR, TOO_MANY_CONNECTIONS
from web.parser import Refusal, RequestParser, connection_environ, unsupported_version
from web.request import Request

_log = logging.getLogger(__name__)

OPEN_CONNECTIONS = Gauge("http_open_connections", "HTTP connections open now.")
REFUSED_CONNECTIONS = Counter(
    "http_refused_connections", "Connections answered 503 at once: MAX_CONNECTIONS were busy."
)
RECLAIMED_CONNECTIONS = Counter(
    "http_reclaimed_connections", "Waiting connections closed at MAX_CONNECTIONS for new ones."
)

_RECV_SIZE = 65536
# Response bytes gathered from the app's iterable before they are sent.
_SEND_SIZE = 65536

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HttpServer:
    """Serves a WSGI app on accepted sockets, one green thread per connection.

    At most `max_connections` are open at once, so a flood of connections cannot grow
    the process. A connection holds its place only while one of its requests is being
    served: at the cap, the accept loop `admit`s a new one in place of the connection
    that has waited longest for a request (idle, or its request head still arriving),
    closing that one, as nginx reuses idle connections. Only when every connection is
    serving a request is the new one answered 503 and closed at once, before it costs a
    thread or a buffer. So idle and slow-header floods cannot lock real clients out,
    and a flood of slow bodies gets refusals, not a queue.

    A connection waiting for its next request is closed after `keepalive_timeout`
    seconds; one in the middle of a request gets `timeout` seconds for each read.
    """

    def __init__(
        self,
        app: WsgiApp,
        timeout: float,
        access_log: bool = False,
        keepalive_timeout: float | None = None,
        max_connections: int | None = None,
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.access_log = access_log
        self.keepalive_timeout = keepalive_timeout or timeout
        self.max_connections = max_connections
        self._connections: set[Connection] = set()
        # Connections waiting for a request, the longest-waiting first.
        self.waiting: OrderedDict[Connection, None] = OrderedDict()
        self._starting = 0  # admitted, not yet served

    def admit(self, sock: Any) -> bool:
        """Whether an accepted connection may be served: if not, it has been answered."""
        if not self._full():
            self._starting += 1
            return True
        # eventlet's accept returns without yielding while connections are queued, so
        # at the cap the accept loop yields once per connection: the connections just
        # admitted start (and wait for a request), the one closed below goes, and the
        # requests in progress are not starved by a flood.
        eventlet.sleep(0)
        if self.waiting:
            longest, _ = self.waiting.popitem(last=False)
            self._connections.discard(longest)  # its place is the new one's now
            longest.close_now()
            RECLAIMED_CONNECTIONS.inc()
            self._starting += 1
            return True
        REFUSED_CONNECTIONS.inc()
        refusal = Refusal(TOO_MANY_CONNECTIONS, "every connection is busy; retry")
        try:
            sock.sendall(refusal.response())  # a fresh socket's send buffer takes it
        except OSError:
            pass
        sock.close()
        return False

    def _full(self) -> bool:
        if self.max_connections is None:
            return False
        return len(self._connections) + self._starting >= self.max_connections

    def serve(self, sock: Any, address: Any) -> None:
        """Serve one connection until it closes. Never raises: a failure is logged."""
        self._starting = max(0, self._starting - 1)
        connection = Connection(self, sock, address)
        self._connections.add(connection)
        OPEN_CONNECTIONS.inc()
        try:
            connection.serve()
        except OSError:
            pass  # the client went away, or stalled past the timeout
        except (Exception, eventlet.Timeout):
            _log.warning("connection from %s failed", connection.client, exc_info=True)
        finally:
            OPEN_CONNECTIONS.dec()
            self._connections.discard(connection)
            sock.close()

    def drain(self) -> None:
        """Close idle connections now, and busy ones once their response is sent."""
        for connection in list(self._connections):
            connection.drain()


class Connection:
    """One client connection: its request-response loop (a `RequestSource`)."""

    def __init__(self, server: HttpServer, sock: Any, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.client = address[0] if isinstance(address, tuple) else str(address)
        self.idle = True  # waiting for a request, none of it received: drain closes it
        self.closing = False
        self._parser = RequestParser(self, connection_environ(sock, address, self.client))
        self._ended = False  # no more requests: end of stream, or a parse error
        self._read_timeout = server.timeout
        self._refusal: Refusal | None = None  # to send once the requests before it are served

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

    def close_now(self) -> None:
        """Close while waiting for a request: the read wakes with end of stream."""
        self._ended = True
        greenio.shutdown_safe(self.sock)

    def _next_request(self) -> tuple[Request, dict[str, Any]] | None:
        if self._parser.ready:
            return self._parser.ready.popleft()  # pipelined: already here
        waiting = self.server.waiting
        waiting[self] = None
        try:
            return self._wait_for_request()
        finally:
            waiting.pop(self, None)

    def _wait_for_request(self) -> tuple[Request, dict[str, Any]] | None:
        parser = self._parser
        deadline = 0.0
        while not parser.ready:
            if self._ended or (self.closing and not parser.in_head):
                return None
            if parser.in_head:
                # A socket timeout bounds each read; this bounds the whole head.
                now = time.monotonic()
                deadline = deadline or now + self.server.timeout
                if now > deadline:
                    return None
            self.idle = not parser.in_head
            waiting = self.server.keepalive_timeout if self.idle else self.server.timeout
            if waiting != self._read_timeout:
                self._read_timeout = waiting
                self.sock.settimeout(waiting)
            try:
                self._receive()
            except OSError:
                return None  # reset, or idle past the timeout: close quietly
            finally:
                self.idle = False
        return parser.ready.popleft()

    def _receive(self) -> None:
        """Read once from the socket and parse what came; a parse error ends the stream."""
        data = self.sock.recv(_RECV_SIZE)
        if not data:
            self._ended = True
            return
        try:
            self._parser.feed(data)
        except httptools.HttpParserUpgrade:
            # llhttp hands the bytes after an Upgrade request's head to the new protocol.
            # This server speaks only HTTP/1.x: it answers the request, then closes.
            self._ended = self.closing = True
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, Refusal):
                raise exc.__context__ or exc
            self._refuse(exc.__context__)
        except httptools.HttpParserError as exc:
            if self._parser.http_version not in ("0.0", "1.0", "1.1"):
                self._refuse(unsupported_version())
            else:
                self._refuse(Refusal(BAD_REQUEST, f"malformed request: {exc}"))
        except Refusal as refusal:
            self._refuse(refusal)

    def _refuse(self, refusal: Refusal) -> None:
        self._ended = True
        ready, current = self._parser.ready, self._parser.current
        if current is None or current is (ready[-1][0] if ready else None):
            # The bad request is not being served yet: refuse it in its turn.
            if current is not None:
                ready.pop()
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
            if self.server.access_log:
                # Before the body is closed: a traced request's span is still current.
                request.log(time.monotonic() - started)
        except (Exception, eventlet.Timeout):
            _log.error("the WSGI app failed on %s", request.raw_uri, exc_info=True)
            if not request.head_sent:
                error = Refusal(INTERNAL_ERROR, "the request failed unexpectedly")
                self.sock.sendall(error.response())
            return False
        finally:
            if hasattr(result, "close"):
                result.close()
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
