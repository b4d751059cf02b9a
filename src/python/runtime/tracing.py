"""OpenTelemetry traces across the services, carried in Nameko's context data.

The W3C ``traceparent`` (and ``tracestate``) ride as context data keys, so they travel
in the ``nameko.traceparent`` message header like the request id: any Nameko service in
the path, a stock one included, passes them along unchanged. Each worker's span starts
from the context it received (`worker_parent`); a client or producer span puts its own
context into the headers of the message it sends (`inject`).

Tracing is on when the standard ``OTEL_*`` variables name an OTLP endpoint
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), unless
``OTEL_SDK_DISABLED`` or ``OTEL_TRACES_EXPORTER=none`` says otherwise. Off, every hook
returns at once: no span objects, no context switches.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_KEYS = ("traceparent", "tracestate")
"""The W3C trace context headers, as Nameko context data keys."""

_propagator = TraceContextTextMapPropagator()
_tracer: Any = None
_provider: Any = None


def wants_tracing(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the ``OTEL_*`` settings ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure(service_name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Export this process's spans over OTLP/HTTP if the ``OTEL_*`` settings ask; say if so."""
    global _provider, _tracer
    if not wants_tracing(environ):
        return False
    import opentelemetry.attributes
    import opentelemetry.sdk.trace
    import opentelemetry.sdk.util
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from runtime.green import use_real_locks
    from runtime.otlp import OtlpBytesExporter

    # Each span locks around its fields (runtime.green says why the real lock serves);
    # the batch processor's thread and its waits stay green.
    use_real_locks(opentelemetry.sdk.trace, opentelemetry.attributes, opentelemetry.sdk.util)

    resource = Resource.create({"service.name": service_name})  # OTEL_RESOURCE_ATTRIBUTES too
    _provider = TracerProvider(resource=resource)
    _provider.add_span_processor(BatchSpanProcessor(OtlpBytesExporter()))
    trace.set_tracer_provider(_provider)
    # The provider's own tracer: one taken before it was set would be a proxy to it.
    _tracer = _provider.get_tracer("nameko-stack")
    return True


def enabled() -> bool:
    return _provider is not None


def shutdown() -> None:
    """Export what is still buffered (the process is stopping)."""
    if _provider is not None:
        _provider.shutdown()


def start_span(
    name: str,
    kind: SpanKind,
    parent_data: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Span:
    """A span, child of the trace context in `parent_data` (context data), else of the
    current span."""
    parent = _propagator.extract(parent_data) if parent_data is not None else None
    return _tracer.start_span(name, context=parent, kind=kind, attributes=attributes)


def activate(span: Span) -> object:
    """Make `span` the current one for this green thread; `deactivate` with the token."""
    return context.attach(trace.set_span_in_context(span))


def deactivate(token: object) -> None:
    context.detach(token)  # type: ignore[arg-type]


@contextmanager
def span(
    name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span | None]:
    """A child span of the current one around the block (None when tracing is off).

    What the SDK's ``start_as_current_span`` does (an exception ends the span with its
    record and an error status), in one context manager instead of three nested ones.
    """
    if _provider is None:
        yield None
        return
    current = _tracer.start_span(name, kind=kind, attributes=attributes)
    token = activate(current)
    try:
        try:
            yield current
        finally:
            deactivate(token)
    except Exception as exc:  # not GeneratorExit and the like: they are no errors
        if current.is_recording():
            current.record_exception(exc)
            current.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        current.end()


def inject(headers: MutableMapping[str, Any], prefix: str) -> None:
    """Put the current span's trace context into message `headers` (keys `prefix` + key)."""
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    for key, value in carrier.items():
        headers[prefix + key] = value


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, if a span is recording."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")
