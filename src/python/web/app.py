"""A JSON HTTP entrypoint for Nameko: JSON in, JSON out, JSON errors, request ids.

Nameko's ``@http`` answers routing errors with werkzeug's HTML pages and failures
with a plain-text 500. Here every response, the ones werkzeug's router makes
included, is JSON; every response carries ``X-Request-ID``; the id is put in the
worker's context data so it travels with every call and event the request causes;
a body over the limit is refused from its ``Content-Length`` before it is read; the
API's routes are behind `web.guard` (keys, rate); and a body is read before a worker
is taken (`web.body.buffer_body`).

Handlers return a JSON-able value, or ``(status, value)``, and raise `HttpError` or a
`ServiceError` (which names its own HTTP status) for failures.
"""

from __future__ import annotations

import logging
import socket
from functools import partial
from typing import Any, Callable

import eventlet
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from opentelemetry.trace import Span, SpanKind
from prometheus_client import Counter
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from runtime import tracing
from runtime.config import ContainerSettings
from runtime.errors import ServiceError
from runtime.metrics import labelled
from runtime.request_id import (
    API_KEY_NAME_KEY,
    REQUEST_ID_KEY,
    accept_request_id,
    bind_request_id,
)
from runtime.signatures import CheckedOncePerShape
from web.body import buffer_body, has_body
from web.errors import INTERNAL_ERROR, PAYLOAD_TOO_LARGE, SHUTTING_DOWN, HttpError, kind_of
from web.guard import ApiKeys, Guard, RateLimiter
from web.responses import (
    JsonResponse,
    WsgiResponse,
    error_response,
    from_http_error,
    from_http_exception,
)
from web.server import HttpServer
from web.traced import RequestSpan

_log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered by the app, by method, route template and status code.",
    ["method", "route", "code"],
)
UNMATCHED = "unmatched"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_ID_HEADER = "X-Request-ID"
_ENVIRON_REQUEST_ID = "web.request_id"
_ENVIRON_API_KEY = "web.api_key"
_ENVIRON_SPAN = "web.span"
MAX_REMEMBERED_ROUTES = 1024


class JsonWsgiApp(WsgiApp):
    """Routes like Nameko's app, but with request ids, a body limit and JSON errors."""

    def __init__(self, server: JsonWebServer) -> None:
        super().__init__(server)
        settings = server.settings.values
        self.max_body_bytes = settings.max_body_bytes
        self.body_timeout = settings.http_timeout
        self.guard = Guard(
            ApiKeys(settings.api_keys_file), RateLimiter(settings.rate_limit, settings.rate_burst)
        )
        # Routes match on path and method alone: one adapter serves every request,
        # instead of one bound to each request's environ (host checks and all).
        self._adapter = self.url_map.bind("")
        self._matches: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[_ENVIRON_REQUEST_ID] = request_id
        bind_request_id(request_id)  # and no API key's name, until the guard finds one

        def start_with_request_id(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        traced = None
        if tracing.enabled():
            traced = environ[_ENVIRON_SPAN] = RequestSpan(environ, request_id)
        try:
            route, response = self._respond(environ)
            method = environ["REQUEST_METHOD"]
            known = method if method in _KNOWN_METHODS else "other"
            labelled(HTTP_REQUESTS, known, route, str(response.status_code)).inc()
            body = response(environ, start_with_request_id)
        except BaseException:
            if traced is not None:
                traced.end()
            raise
        if traced is None:
            return body
        traced.answered(route, response.status_code, environ.get(_ENVIRON_API_KEY))
        return traced.wrap(body)

    def _respond(self, environ: dict[str, Any]) -> tuple[str, WsgiResponse]:
        """The route template that answered (or ``"unmatched"``), and its response."""
        if self.server.draining:
            return UNMATCHED, error_response(
                SHUTTING_DOWN,
                "this instance is shutting down; retry",
                [("Connection", "close"), ("Retry-After", "1")],
            )
        request = Request(environ, shallow=True)
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            # Refuse from the header alone; closing the connection spares the
            # server from reading (or discarding) the body at all.
            return UNMATCHED, error_response(
                PAYLOAD_TOO_LARGE,
                f"request bodies are limited to {self.max_body_bytes} bytes",
                [("Connection", "close")],
            )
        try:
            provider, values = self._match(environ)
        except HTTPException as exc:
            return UNMATCHED, from_http_exception(exc)
        if not provider.public:
            api_key, refusal = self.guard.refusal(environ)
            if api_key is not None:
                environ[_ENVIRON_API_KEY] = api_key
                bind_request_id(environ[_ENVIRON_REQUEST_ID], api_key)
            if refusal is not None:
                return provider.url, refusal
        if has_body(environ):
            try:
                buffer_body(environ, self.max_body_bytes, self.body_timeout)
            except HttpError as exc:
                return provider.url, from_http_error(exc)
        request.path_values = values  # type: ignore[attr-defined]  # Nameko's convention
        response: WsgiResponse = provider.handle_request(request)
        return provider.url, response

    def _match(self, environ: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The provider and path values for this path and method, remembered once found.

        werkzeug's matcher costs more than the lookup, and leaves a reference cycle
        behind each call for the garbage collector. Refusals (404, 405) are not kept,
        and at most `MAX_REMEMBERED_ROUTES` paths are, whatever clients send.
        """
        key = (environ["PATH_INFO"], environ["REQUEST_METHOD"])
        match = self._matches.get(key)
        if match is None:
            path = key[0].encode("latin-1").decode(errors="replace")
            match = self._adapter.match(path, key[1])
            if len(self._matches) < MAX_REMEMBERED_ROUTES:
                self._matches[key] = match
        provider, values = match
        return provider, dict(values)  # a handler's path values are its own


class JsonWebServer(WebServer):
    """Nameko's web server with the JSON app on `HttpServer`, and a clean drain.

    When the service stops it refuses new requests with a 503 ``shutting_down``
    (``Connection: close``), closes idle keep-alive connections, and lets the requests
    it had accepted finish.
    """

    _serv: HttpServer | None
    _starting: bool
    settings = ContainerSettings()

    def __init__(self) -> None:
        super().__init__()
        self.draining = False

    def start(self) -> None:
        # Nameko's start, with a listen backlog that holds a burst of connections:
        # eventlet's 50 overflows under a flood, and a dropped SYN costs a real client
        # a one-second retransmit before the cap's admission rules can help it.
        if not self._starting:
            self._starting = True
            self._sock = eventlet.listen(self.bind_addr, backlog=socket.SOMAXCONN)
            self._sock.settimeout(None)  # https://github.com/celery/kombu/issues/838
            self._serv = self.get_wsgi_server(self._sock, self.get_wsgi_app())
            self._gt = self.container.spawn_managed_thread(self.run)

    def get_wsgi_app(self) -> JsonWsgiApp:
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock: Any, wsgi_app: Any, *args: Any, **kwargs: Any) -> HttpServer:
        # A client that stalls mid-request holds a green thread only `http_timeout`.
        # One line per request costs more than the rest of a 404: opt in with ACCESS_LOG.
        settings = self.settings.values
        return HttpServer(
            wsgi_app,
            settings.http_timeout,
            settings.access_log,
            settings.keepalive_timeout,
            settings.max_connections,
        )

    def run(self) -> None:
        # Nameko's accept loop, less eventlet.wsgi's socket_timeout: HttpServer sets it.
        # One that MAX_CONNECTIONS turns away is answered and closed here, with no thread.
        while self._is_accepting:
            sock, address = self._sock.accept()
            assert self._serv is not None  # made in start(), before the first accept
            if self._serv.admit(sock):
                self.container.spawn_managed_thread(partial(self.process_request, sock, address))

    def process_request(self, sock: Any, address: Any) -> None:
        # Each connection runs in a thread Nameko manages, and a managed thread that
        # raises stops the whole service: HttpServer.serve never raises.
        assert self._serv is not None  # made in start(), before the first accept
        self._serv.serve(sock, address)

    def drain(self) -> None:
        """Take no new requests: refuse them, and close idle keep-alive connections.

        Called when the service's entrypoints stop, which is before its workers finish
        and its dependencies (the broker link among them) stop. Nameko stops this shared
        server only after those, so draining here would be too late.
        """
        self.draining = True
        if self._serv is not None:
            self._serv.drain()

    def context_data_from_headers(self, request: Request) -> dict[str, Any]:
        """The request id and its API key's name, if any."""
        data = {REQUEST_ID_KEY: request.environ[_ENVIRON_REQUEST_ID]}
        if api_key := request.environ.get(_ENVIRON_API_KEY):
            data[API_KEY_NAME_KEY] = api_key
        return data


class JsonHttp(CheckedOncePerShape, HttpRequestHandler):
    """``@json_http("GET", "/path")``: a handler whose result is sent as JSON."""

    server = JsonWebServer()
    telemetry_kind = ("http", SpanKind.SERVER)

    @property
    def telemetry_name(self) -> str:
        """Its route template, as metrics and spans name it: ``"GET /sum"``."""
        return f"{self.method} {self.url}"

    def telemetry_span(self, worker_ctx: Any) -> Span | None:
        """The request's server span (`web.traced.RequestSpan`): the worker runs in it,
        rather than in a span of its own, one level down."""
        traced: RequestSpan | None = worker_ctx.args[0].environ.get(_ENVIRON_SPAN)
        return traced.span if traced is not None else None

    def __init__(self, method: str, url: str, public: bool = False, **kwargs: Any) -> None:
        # Client errors are expected: Nameko logs them briefly, not as crashes.
        kwargs.setdefault("expected_exceptions", (HttpError, ServiceError))
        # A route is the API's, behind the guard (keys, rate), unless it says it is public
        # (what orchestrators and scrapers call: health, readiness, metrics).
        self.public = public
        super().__init__(method, url, **kwargs)

    def stop(self) -> None:
        self.server.drain()
        super().stop()

    def response_from_result(self, result: Any) -> WsgiResponse:
        if isinstance(result, (Response, JsonResponse)):
            return result
        status, body = result if isinstance(result, tuple) else (200, result)
        return JsonResponse(status, body)

    def response_from_exception(self, exc: BaseException) -> WsgiResponse:
        if isinstance(exc, HttpError):
            return from_http_error(exc)
        if isinstance(exc, ServiceError):
            return error_response(kind_of(type(exc)), exc.message)
        if isinstance(exc, HTTPException):
            return from_http_exception(exc)
        # The traceback goes to the log only: bodies never show internals.
        _log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return error_response(INTERNAL_ERROR, "the request failed unexpectedly")


json_http = JsonHttp.decorator
