"""The gateway: the HTTP API in front of calc and log."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Request, Response

from domain.events import SUM_COMPUTED, SumComputed
from domain.limits import MAX_LOG_ENTRIES
from domain.numbers import Number
from gateway.asyncapi import asyncapi_document
from gateway.inputs import logs_limit, numbers_from_body, numbers_from_query
from gateway.openapi import openapi_document
from messaging.events import ConfirmedEvents
from messaging.rpc import ServiceProxy, ServiceRpc
from runtime.config import Settings, SettingsProvider
from runtime.errors import ServiceError
from runtime.request_id import RequestContext
from runtime.telemetry import Telemetry
from web.app import json_http
from web.body import read_json


class GatewayService:
    """Sums numbers through calc, records each sum through log, serves health checks."""

    name = "gateway"

    settings: Settings = SettingsProvider()
    request_id: str = RequestContext()
    calc: ServiceProxy = ServiceRpc("calc")
    log: ServiceProxy = ServiceRpc("log")
    sum_computed: Any = ConfirmedEvents(SUM_COMPUTED)
    telemetry = Telemetry()

    @json_http("GET", "/sum")
    def sum_from_query(self, request: Request) -> dict[str, Any]:
        """``GET /sum?numbers=1,2,3``"""
        return self._sum(numbers_from_query(request.args, self.settings.max_numbers))

    @json_http("POST", "/sum")
    def sum_from_body(self, request: Request) -> dict[str, Any]:
        """``POST /sum`` with ``{"numbers": [1, 2, 3]}``"""
        body = read_json(request, self.settings.max_body_bytes, self.settings.http_timeout)
        return self._sum(numbers_from_body(body, self.settings.max_numbers))

    def _sum(self, numbers: list[Number]) -> dict[str, Any]:
        # The answer is sent only once the event is confirmed: a 200 means the
        # sum will be in the log, even if log is down right now.
        result = self.calc.sum(numbers=numbers)
        event = SumComputed.new(self.request_id, numbers, result)
        self.sum_computed(event.event_id, event.to_payload())
        return {"result": result, "request_id": self.request_id}

    @json_http("GET", "/logs")
    def logs(self, request: Request) -> dict[str, Any]:
        """``GET /logs?limit=20``: the newest log entries, newest first."""
        limit = logs_limit(request.args, MAX_LOG_ENTRIES)
        return {"entries": self.log.recent(limit=limit)}

    @json_http("GET", "/openapi.json", public=True)
    def openapi(self, request: Request) -> dict[str, Any]:
        """This API as an OpenAPI 3 document."""
        return openapi_document(self.settings)

    @json_http("GET", "/asyncapi.json", public=True)
    def asyncapi(self, request: Request) -> dict[str, Any]:
        """The services' calls and events as an AsyncAPI 3 document."""
        return asyncapi_document(self.settings)

    @json_http("GET", "/metrics", public=True)
    def metrics(self, request: Request) -> Response:
        """Prometheus' text format: this process's metrics."""
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @json_http("GET", "/health", public=True)
    def health(self, request: Request) -> dict[str, Any]:
        """Liveness: the process serves HTTP. Depends on nothing else, by design."""
        return {"status": "ok"}

    @json_http("GET", "/ready", public=True)
    def ready(self, request: Request) -> tuple[int, dict[str, Any]]:
        """Readiness: the broker is reachable and calc answers a ping in time."""
        try:
            self.calc.ping(timeout=self.settings.ready_timeout)
        except ServiceError as exc:
            return 503, {"ready": False, "reason": {"code": exc.code, "message": exc.message}}
        return 200, {"ready": True}
