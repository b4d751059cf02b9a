"""`tracing.span` does what the SDK's ``start_as_current_span`` does, in one step."""

from __future__ import annotations

from collections.abc import Generator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, get_current_span

from runtime import tracing


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_provider", provider)
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("test"))
    return exporter


def no_current_span() -> bool:
    return not get_current_span().get_span_context().is_valid


def test_a_span_is_current_in_its_block_parents_the_spans_there_and_ends_after_it(
    exported: InMemorySpanExporter,
) -> None:
    with tracing.span("outer", SpanKind.CLIENT, {"a": 1}) as outer:
        assert get_current_span() is outer
        with tracing.span("inner") as inner:
            assert get_current_span() is inner
        assert get_current_span() is outer
    assert no_current_span()
    finished_inner, finished_outer = exported.get_finished_spans()
    assert finished_inner.parent == finished_outer.get_span_context()
    assert finished_outer.kind == SpanKind.CLIENT and finished_outer.attributes == {"a": 1}
    assert finished_outer.status.status_code == StatusCode.UNSET


def failed_by_the_sdk_and_by_span() -> list[tuple[object, ...]]:
    """What each way leaves of a failing block: status, description and event names."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracing, "_provider", provider)
        patch.setattr(tracing, "_tracer", tracer)
        for start in (tracer.start_as_current_span, tracing.span):
            with pytest.raises(ValueError):
                with start("failing"):
                    raise ValueError("bad input")
            assert no_current_span()
    return [
        (s.status.status_code, s.status.description, [e.name for e in s.events])
        for s in exporter.get_finished_spans()
    ]


def test_an_error_in_the_block_is_recorded_as_the_sdk_records_it_and_raised() -> None:
    sdk, own = failed_by_the_sdk_and_by_span()
    assert own == sdk == (StatusCode.ERROR, "ValueError: bad input", ["exception"])


def test_a_generator_closed_in_the_block_is_no_error(exported: InMemorySpanExporter) -> None:
    def spanning() -> Generator[int, None, None]:
        with tracing.span("generator"):
            yield 1

    generator = spanning()
    next(generator)
    generator.close()
    (span,) = exported.get_finished_spans()
    assert span.status.status_code == StatusCode.UNSET and not span.events


def test_with_tracing_off_the_block_runs_without_a_span() -> None:
    assert not tracing.enabled()
    with tracing.span("nothing") as span:
        assert span is None and no_current_span()
