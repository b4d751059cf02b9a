"""Outgoing calls and publishes, counted by outcome, timed, and traced.

An RPC call is a client span, a publish a producer span; either's trace context goes
into the message's Nameko headers (``nameko.traceparent``), so the worker that handles
the message continues the same trace.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from nameko.constants import HEADER_PREFIX
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram

from messaging.errors import MessagingError
from runtime import tracing
from runtime.metrics import labelled
from runtime.telemetry import LATENCY_BUCKETS

RPC_CALLS = Counter(
    "rpc_client_calls",
    "RPC calls made, by target and outcome (ok, error, timeout, unroutable, "
    "broker_unavailable).",
    ["target", "outcome"],
)
RPC_DURATION = Histogram(
    "rpc_client_duration_seconds", "RPC calls, from publish to reply.", ["target"],
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
EVENTS_PUBLISHED = Counter(
    "events_published",
    "Events published, by outcome (confirmed, returned, nacked, timeout, broker_unavailable).",
    ["event", "outcome"],
)
CONFIRM_DURATION = Histogram(
    "events_confirm_duration_seconds", "Events, from publish to the broker's confirm.",
    ["event"], buckets=LATENCY_BUCKETS,
)  # fmt: skip


@contextmanager
def observed(
    name: str, kind: SpanKind, headers: dict[str, Any], counter: Counter, duration: Histogram,
    ok: str,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Around one outgoing message: yields the headers to send it with (the caller's, plus
    the span's trace context when tracing); counts it under `name` by outcome (`ok`, or
    the failure's) and records how long it took."""
    started = time.perf_counter()
    outcome = ok
    try:
        with tracing.span(name, kind) as span:
            if span is not None:
                headers = dict(headers)
                tracing.inject(headers, f"{HEADER_PREFIX}.")
            yield headers
    except MessagingError as exc:
        outcome = exc.outcome
        raise
    except Exception:
        outcome = "error"
        raise
    finally:
        labelled(counter, name, outcome).inc()
        labelled(duration, name).observe(time.perf_counter() - started)
