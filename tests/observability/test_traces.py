"""One ``GET /sum`` is one trace across the three packaged services, exported over
OTLP/HTTP, correctly parented, and its trace id is in each service's log lines."""

from __future__ import annotations

import requests

from devstack.processes import PackagedStack, ServiceProcess
from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.otlp import OtlpReceiver, ReceivedSpan
from harness.packaged import StackFactory

REQUEST_ID = "traced-sum-1"


def traced_stack(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup, **settings: str
) -> tuple[OtlpReceiver, PackagedStack, dict[str, ServiceProcess]]:
    """The three services exporting their spans to a receiver of the test's own."""
    receiver = OtlpReceiver()
    cleanup(receiver.stop)
    stack = stack_factory(amqp_uri, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint,
                          OTEL_BSP_SCHEDULE_DELAY="100", **settings)  # fmt: skip
    processes = stack.start_all()
    stack.wait_ready()
    return receiver, stack, processes


def test_one_sum_is_one_trace_with_every_hop_parented_across_the_services(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    receiver, stack, processes = traced_stack(
        amqp_uri, stack_factory, cleanup, LOG_LEVEL="DEBUG", ACCESS_LOG="true"
    )

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


def test_a_parent_based_ratio_sampler_drops_unsampled_requests_and_follows_a_sampled_caller(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    receiver, stack, _ = traced_stack(
        amqp_uri, stack_factory, cleanup,
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0",  # a new trace is never sampled
    )  # fmt: skip
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    for request_id, traceparent in (
        ("unsampled-1", None),
        ("caller-sampled-1", f"00-{caller_trace}-b7ad6b7169203331-01"),
        ("unsampled-2", None),
    ):
        headers = {"X-Request-ID": request_id}
        if traceparent:
            headers["traceparent"] = traceparent
        answer = requests.get(stack.base_url + "/sum?numbers=1,2", headers=headers, timeout=10)
        assert answer.json()["result"] == 3

    def followed() -> list[ReceivedSpan] | None:
        spans = [s for s in receiver.spans if s.trace_id == caller_trace]
        return spans if len(spans) == 5 else None

    spans = wait_for(followed, 30, "the five spans of the sampled caller's trace")
    assert {s.service for s in spans} == {"gateway", "calc", "log"}
    # Every span that came was the sampled caller's: the others' were never made.
    assert {s.trace_id for s in receiver.spans} == {caller_trace}, receiver.spans
    # Server and consumer spans carry the request id; client and producer spans do not.
    request_ids = {s.attributes.get("request_id") for s in receiver.spans} - {None}
    assert request_ids == {"caller-sampled-1"}
