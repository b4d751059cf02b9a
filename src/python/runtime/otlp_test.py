"""`runtime.otlp` writes the bytes the SDK's own OTLP encoder writes, for every span shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from runtime.otlp import OtlpBytesExporter, encode_spans

REMOTE_PARENT = SpanContext(
    0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
    trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "x1"), ("other", "y")]),
)  # fmt: skip


def finished_spans(resource: Resource, scope: str = "nameko-stack") -> list[ReadableSpan]:
    """Spans of every shape the services make, and some they do not."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(scope)
    remote = set_span_in_context(NonRecordingSpan(REMOTE_PARENT))

    with tracer.start_as_current_span("GET /sum", kind=SpanKind.SERVER, context=remote,
                                      attributes={"http.route": "/sum"}) as server:  # fmt: skip
        server.set_attribute("http.response.status_code", 200)
        with tracer.start_as_current_span("calc.sum", kind=SpanKind.CLIENT):
            pass
        with tracer.start_as_current_span("gateway.sum_computed", kind=SpanKind.PRODUCER):
            pass
    values: dict[str, Any] = {
        "text": "é ünïcode", "empty": "", "long": "r" * 200, "yes": True, "no": False,
        "zero": 0, "small": 7,
        "big": 2**62, "negative": -5, "float": 2.5, "negative_float": -0.0,
        "texts": ["a", "", "b"], "ints": [1, -2, 0], "floats": [0.5, 1.0], "bools": [True, False],
    }  # fmt: skip
    span = tracer.start_span("everything", kind=SpanKind.CONSUMER, attributes=values,
                             links=[Link(REMOTE_PARENT, {"link": "attr"})])  # fmt: skip
    span.add_event("plain")
    span.add_event("with attributes", {"n": 1, "s": "x"})
    try:
        raise ValueError("boom")
    except ValueError as exc:
        span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, "it failed"))
    span.end()
    internal = tracer.start_span("no attributes")
    internal.set_status(Status(StatusCode.OK))
    internal.end()
    return list(exporter.get_finished_spans())


@pytest.fixture
def spans() -> Iterator[list[ReadableSpan]]:
    yield finished_spans(Resource.create({"service.name": "gateway", "deployment": "test"}))


def test_every_span_shape_is_written_as_the_sdk_writes_it(spans: list[ReadableSpan]) -> None:
    assert len(spans) == 5
    assert encode_spans(spans) == sdk_encode(spans).SerializeToString()
    for span in spans:
        assert encode_spans([span]) == sdk_encode([span]).SerializeToString(), span.name


def test_spans_of_several_resources_and_scopes_are_grouped_as_the_sdk_groups_them() -> None:
    mixed = (
        finished_spans(Resource.create({"service.name": "calc"}), "a")
        + finished_spans(Resource.create({"service.name": "log"}), "b")
        + finished_spans(Resource.create({"service.name": "calc"}), "a")
    )
    assert encode_spans(mixed) == sdk_encode(mixed).SerializeToString()


def test_the_exporter_hooks_it_relies_on_are_there(spans: list[ReadableSpan]) -> None:
    """`OtlpBytesExporter` sends through the SDK exporter's HTTP client: if an upgrade
    renames it, this fails here, not silently in production."""
    exporter = OtlpBytesExporter(endpoint="http://127.0.0.1:9/v1/traces")
    assert isinstance(exporter, OTLPSpanExporter)
    assert callable(exporter._client.export) and exporter._shutdown is False
