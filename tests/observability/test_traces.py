"""One ``GET /sum`` is one trace across the three packaged services, exported over
OTLP/HTTP, correctly parented, and its trace id is in each service's log lines."""

from __future__ import annotations

import requests

from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.otlp import OtlpReceiver, ReceivedSpan
from harness.packaged import StackFactory

REQUEST_ID = "traced-sum-1"


def test_one_sum_is_one_trace_with_every_hop_parented_across_the_services(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    receiver = OtlpReceiver()
    cleanup(receiver.stop)
    stack = stack_factory(
        amqp_uri,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        LOG_LEVEL="DEBUG",
        ACCESS_LOG="true",
    )
    processes = stack.start_all()
    stack.wait_ready()

    answer = requests.get(
        stack.base_url + "/sum?numbers=1,2,3", headers={"X-Request-ID": REQUEST_ID}, timeout=10
    )
    assert answer.json()["result"] == 6

    def http_span() -> ReceivedSpan | None:
        return next(
            (s for s in receiver.spans
             if s.kind == "SPAN_KIND_SERVER" and s.attributes.get("request_id") == REQUEST_ID),
            None,
        )  # fmt: skip

    root = wait_for(http_span, 30, "the HTTP request's span")
    expected = {
        ("gateway", "SPAN_KIND_SERVER", "GET /sum"),
        ("gateway", "SPAN_KIND_CLIENT", "calc.sum"),
        ("calc", "SPAN_KIND_SERVER", "calc sum"),
        ("gateway", "SPAN_KIND_PRODUCER", "gateway.sum_computed"),
        ("log", "SPAN_KIND_CONSUMER", "log record_sum"),
    }

    def trace() -> dict[tuple[str, str, str], ReceivedSpan] | None:
        spans = {
            (s.service, s.kind, s.name): s for s in receiver.spans if s.trace_id == root.trace_id
        }
        return spans if expected <= set(spans) else None

    spans = wait_for(trace, 30, f"every span of trace {root.trace_id}")
    assert len([s for s in receiver.spans if s.trace_id == root.trace_id]) == len(expected)

    def parent_of(child: tuple[str, str, str], parent: tuple[str, str, str]) -> None:
        assert spans[child].parent_span_id == spans[parent].span_id, (child, parent)

    # The handler's worker runs in the request's server span: no span of its own.
    http = ("gateway", "SPAN_KIND_SERVER", "GET /sum")
    client, publish = ("gateway", "SPAN_KIND_CLIENT", "calc.sum"), (
        "gateway",
        "SPAN_KIND_PRODUCER",
        "gateway.sum_computed",
    )
    consume = ("log", "SPAN_KIND_CONSUMER", "log record_sum")
    parent_of(client, http)
    parent_of(("calc", "SPAN_KIND_SERVER", "calc sum"), client)
    parent_of(publish, http)
    parent_of(consume, publish)
    assert spans[http].parent_span_id == "", "the client sent no traceparent: the root"
    assert spans[http].attributes["nameko.entrypoint"] == "GET /sum"
    for worker in (http, ("calc", "SPAN_KIND_SERVER", "calc sum"), consume):
        assert spans[worker].attributes["request_id"] == REQUEST_ID

    for name, process in processes.items():
        traced = [r for r in process.log_records() if r.get("trace_id") == root.trace_id]
        assert traced, f"{name} logged no line with the trace id"
        assert all(r["request_id"] == REQUEST_ID for r in traced), traced
