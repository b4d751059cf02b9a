"""The CPU one span costs a service, run inside a service's PEX (its code, its SDK).

``benchmarks/run`` runs this file with ``PEX_INTERPRETER=1 calc.pex span_cost.py N``:
it lives beside the benchmark but imports only what the PEX holds. Under eventlet, as in
a service, each of N spans is started the way a worker's is (its parent extracted from
Nameko context data, two attributes), made current, ended and handed to the SDK's batch
processor, whose green thread exports them: once to an exporter that drops them (the
SDK's own cost), once to one that writes them as OTLP protobuf (``runtime.otlp``). Each
span yields to the hub once, as a worker does at its I/O; that yield alone is measured
and taken off. It prints one JSON line of microseconds of process CPU per span.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from launch import boot

CONTEXT_DATA = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "call_id_stack": ["gateway.http.0"],
}


def measure(count: int) -> dict[str, float]:
    """Microseconds of CPU per span: the SDK's alone, and with the spans encoded."""
    import eventlet
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
    from opentelemetry.trace import SpanKind

    from runtime import tracing
    from runtime.otlp import encode_spans

    class Exporter:
        def __init__(self, encode: Callable[[Sequence[Any]], bytes] | None) -> None:
            self._encode = encode

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            if self._encode is not None:
                self._encode(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    def cpu_us_per_span(count: int, exporter: Exporter | None) -> float:
        """Process CPU per span behind a batch processor (`exporter` None: no span)."""
        if exporter is None:
            processor = None
        else:
            processor = BatchSpanProcessor(exporter)  # type: ignore[arg-type]
            tracing._provider._active_span_processor._span_processors = (processor,)
        started = time.process_time()
        for number in range(count):
            if processor is not None:
                attributes = {"nameko.entrypoint": "sum", "request_id": f"r{number}"}
                span = tracing.start_span("calc sum", SpanKind.SERVER, CONTEXT_DATA, attributes)
                tracing.deactivate(tracing.activate(span))
                span.end()
            eventlet.sleep(0)
        if processor is not None:
            processor.shutdown()  # type: ignore[no-untyped-call]  # exports what is left first
        return (time.process_time() - started) * 1e6 / count

    os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://127.0.0.1:9/unused"
    tracing.configure("calc")
    cpu_us_per_span(count // 10, Exporter(encode_spans))  # warm up
    hub_only = cpu_us_per_span(count, None)
    return {
        "sdk_us_per_span": round(cpu_us_per_span(count, Exporter(None)) - hub_only, 1),
        "encoded_us_per_span": round(cpu_us_per_span(count, Exporter(encode_spans)) - hub_only, 1),
    }


def main() -> None:
    boot.monkey_patch()
    print(json.dumps(measure(int(sys.argv[1]))))


if __name__ == "__main__":
    main()
