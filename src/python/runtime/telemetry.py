"""Every worker measured and traced, whatever its entrypoint: Nameko's worker hooks.

`Telemetry` is a dependency like any other: a service declares ``telemetry =
Telemetry()``, and Nameko calls it around every worker it runs, so each ``@rpc``
method, HTTP route and event handler gets, alike, a request count by outcome, a latency
histogram, and (where tracing is on) a span that is current for the worker's green
thread: the parent of the calls, publishes and writes the worker makes.

An entrypoint names itself in metrics and spans through two optional attributes:
``telemetry_name`` (the HTTP entrypoint uses its route template, ``"GET /sum"``; others
their method name) and ``telemetry_kind`` (``("rpc", SpanKind.SERVER)`` if absent). One
whose requests have a span already (the HTTP server's, from the request's arrival to its
response) hands it over with a ``telemetry_span(worker_ctx)`` method: the worker runs in
that span, and its owner ends it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

from runtime import tracing
from runtime.config import ContainerSettings
from runtime.errors import DeadlineExceeded
from runtime.metrics import labelled
from runtime.request_id import REQUEST_ID_KEY

# Latency buckets in seconds, from a cached sum to a deadline.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

ENTRYPOINT_REQUESTS = Counter(
    "entrypoint_requests",
    "Workers run, by entrypoint and outcome (ok, expected_error, unexpected_error, timeout).",
    ["entrypoint", "kind", "outcome"],
)
ENTRYPOINT_DURATION = Histogram(
    "entrypoint_duration_seconds",
    "Time from a worker's start to its end, reply or acknowledgement included.",
    ["entrypoint", "kind"],
    buckets=LATENCY_BUCKETS,
)
WORKERS_BUSY = Gauge("workers_busy", "Workers running now.")
WORKERS_MAX = Gauge("workers_max", "The size of the worker pool (MAX_WORKERS).")


def outcome_of(entrypoint: Any, exc_info: Any) -> str:
    if exc_info is None:
        return "ok"
    error = exc_info[1]
    if isinstance(error, DeadlineExceeded):
        return "timeout"
    if isinstance(error, entrypoint.expected_exceptions or ()):
        return "expected_error"
    return "unexpected_error"


@dataclass
class _Worker:
    name: str
    kind: str
    started: float
    outcome: str = "unexpected_error"  # until the worker's result says otherwise
    span: Span | None = None
    owns_span: bool = True
    token: object = None


class Telemetry(DependencyProvider):
    """Counts, times and traces every worker of the service."""

    settings = ContainerSettings()

    def __init__(self) -> None:
        super().__init__()
        self._workers: dict[Any, _Worker] = {}

    def setup(self) -> None:
        WORKERS_MAX.set(self.settings.values.max_workers)

    def worker_setup(self, worker_ctx: Any) -> None:
        entrypoint = worker_ctx.entrypoint
        name = getattr(entrypoint, "telemetry_name", entrypoint.method_name)
        kind, span_kind = getattr(entrypoint, "telemetry_kind", ("rpc", SpanKind.SERVER))
        worker = self._workers[worker_ctx] = _Worker(name, kind, time.perf_counter())
        WORKERS_BUSY.inc()
        if not tracing.enabled():
            return
        attributes = {"nameko.entrypoint": name}  # the service: the resource's service.name
        handed_over = getattr(entrypoint, "telemetry_span", None)
        worker.span = handed_over(worker_ctx) if handed_over is not None else None
        if worker.span is not None:
            worker.owns_span = False
            worker.span.set_attributes(attributes)
        else:
            request_id = worker_ctx.data.get(REQUEST_ID_KEY)
            if request_id:
                attributes["request_id"] = request_id
            worker.span = tracing.start_span(
                f"{self.container.service_name} {name}",
                span_kind,
                parent_data=worker_ctx.data,
                attributes=attributes,
            )
        worker.token = tracing.activate(worker.span)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        worker = self._workers.get(worker_ctx)
        if worker is None:
            return
        worker.outcome = outcome_of(worker_ctx.entrypoint, exc_info)
        if worker.span is not None and exc_info is not None:
            worker.span.record_exception(exc_info[1])
            if worker.outcome != "expected_error":
                worker.span.set_status(Status(StatusCode.ERROR, type(exc_info[1]).__name__))

    def worker_teardown(self, worker_ctx: Any) -> None:
        worker = self._workers.pop(worker_ctx, None)
        if worker is None:
            return
        labelled(ENTRYPOINT_REQUESTS, worker.name, worker.kind, worker.outcome).inc()
        labelled(ENTRYPOINT_DURATION, worker.name, worker.kind).observe(
            time.perf_counter() - worker.started
        )
        WORKERS_BUSY.dec()
        if worker.span is not None:
            if worker.owns_span:
                worker.span.end()
            tracing.deactivate(worker.token)
