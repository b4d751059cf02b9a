"""A JSON HTTP entrypoint for Nameko: JSON in, JSON out, JSON errors, request ids.

Nameko's ``@http`` answers routing errors with werkzeug's HTML pages and failures
with a plain-text 500. Here every response, the ones werkzeug's router makes
included, is JSON; every response carries ``X-Request-ID``; the id is put in the
worker's context data so it travels with every call and event the request causes;
and a body over the limit is refused from its ``Content-Length`` before it is read.

Handlers return a JSON-able value, or ``(status, value)``, and raise `HttpError` or a
`ServiceError` (which names its own HTTP status) for failures.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any, Callable, Iterable, Union

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from opentelemetry.trace import SpanKind
from prometheus_client import Counter
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from runtime import tracing
from runtime.config import ContainerSettings
from runtime.errors import ServiceError
from runtime.request_id import REQUEST_ID_KEY, accept_request_id, bind_request_id
from runtime.signatures import CheckedOncePerShape
from web.errors import HttpError
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
MAX_REMEMBERED_ROUTES = 1024


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
    status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
) -> JsonResponse:
    return JsonResponse(status, {"error": {"code": code, "message": message}}, headers)


def _from_http_exception(exc: HTTPException) -> JsonResponse:
    code = (exc.name or "error").lower().replace(" ", "_")
    headers = []
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers.append(("Allow", ", ".join(sorted(exc.valid_methods))))
    return error_response(exc.code or 500, code, exc.description or exc.name, headers)


class JsonWsgiApp(WsgiApp):
    """Routes like Nameko's app, but with request ids, a body limit and JSON errors."""

    def __init__(self, server: JsonWebServer) -> None:
        super().__init__(server)
        self.max_body_bytes = server.settings.values.max_body_bytes
        # Routes match on path and method alone: one adapter serves every request,
        # instead of one bound to each request's environ (host checks and all).
        self._adapter = self.url_map.bind("")
        self._matches: dict[tuple[str, str], tuple[Any, dict[str, Any]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request_id = accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ[_ENVIRON_REQUEST_ID] = request_id
        bind_request_id(request_id)

        def start_with_request_id(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        traced = RequestSpan(environ, request_id) if tracing.enabled() else None
        try:
            route, response = self._respond(environ)
            method = environ["REQUEST_METHOD"]
            HTTP_REQUESTS.labels(
                method if method in _KNOWN_METHODS else "other", route, str(response.status_code)
            ).inc()
            body = response(environ, start_with_request_id)
        except BaseException:
            if traced is not None:
                traced.end()
            raise
        if traced is None:
            return body
        traced.answered(route, response.status_code)
        return traced.wrap(body)

    def _respond(self, environ: dict[str, Any]) -> tuple[str, WsgiResponse]:
        """The route template that answered (or ``"unmatched"``), and its response."""
        if self.server.draining:
            return UNMATCHED, error_response(
                503,
                "shutting_down",
                "this instance is shutting down; retry",
                [("Connection", "close"), ("Retry-After", "1")],
            )
        request = Request(environ, shallow=True)
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            # Refuse from the header alone; closing the connection spares the
            # server from reading (or discarding) the body at all.
            return UNMATCHED, error_response(
                413,
                "payload_too_large",
                f"request bodies are limited to {self.max_body_bytes} bytes",
                [("Connection", "close")],
            )
        try:
            provider, values = self._match(environ)
        except HTTPException as exc:
            return UNMATCHED, _from_http_exception(exc)
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
    settings = ContainerSettings()

    def __init__(self) -> None:
        super().__init__()
        self.draining = False

    def get_wsgi_app(self) -> JsonWsgiApp:
        return JsonWsgiApp(self)

    def get_wsgi_server(self, sock: Any, wsgi_app: Any, *args: Any, **kwargs: Any) -> HttpServer:
        # A client that stalls mid-request holds a green thread only `http_timeout`.
        # One line per request costs more than the rest of a 404: opt in with ACCESS_LOG.
        settings = self.settings.values
        return HttpServer(wsgi_app, settings.http_timeout, settings.access_log)

    def run(self) -> None:
        # Nameko's accept loop, less eventlet.wsgi's socket_timeout: HttpServer sets it.
        while self._is_accepting:
            sock, address = self._sock.accept()
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
        """The request id, and (when tracing) the request's span as the worker's parent."""
        data = {REQUEST_ID_KEY: request.environ[_ENVIRON_REQUEST_ID]}
        if tracing.enabled():
            tracing.inject(data, prefix="")
        return data


class JsonHttp(CheckedOncePerShape, HttpRequestHandler):
    """``@json_http("GET", "/path")``: a handler whose result is sent as JSON."""

    server = JsonWebServer()
    # The request's server span is `web.traced.RequestSpan`; the worker's is inside it.
    telemetry_kind = ("http", SpanKind.INTERNAL)

    @property
    def telemetry_name(self) -> str:
        """Its route template, as metrics and spans name it: ``"GET /sum"``."""
        return f"{self.method} {self.url}"

    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        # Client errors are expected: Nameko logs them briefly, not as crashes.
        kwargs.setdefault("expected_exceptions", (HttpError, ServiceError))
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
            return error_response(exc.status, exc.code, exc.message, exc.headers)
        if isinstance(exc, ServiceError):
            return error_response(exc.http_status, exc.code, exc.message)
        if isinstance(exc, HTTPException):
            return _from_http_exception(exc)
        # The traceback goes to the log only: bodies never show internals.
        _log.error("unhandled error in %s", self.method_name, exc_info=exc)
        return error_response(500, "internal_error", "the request failed unexpectedly")


json_http = JsonHttp.decorator
