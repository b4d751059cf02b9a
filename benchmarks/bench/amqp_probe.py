"""The raw AMQP round-trip ceiling of this machine and broker.

Two processes with pika, no framework: ``serve`` echoes every request from a queue to
its ``reply_to``; ``run`` keeps a fixed number of requests in flight for a fixed time,
with RabbitMQ's direct reply-to (``amq.rabbitmq.reply-to``), and prints the achieved
round trips per second and latency percentiles as JSON. Gateway throughput divided by
this figure is the number that stays meaningful from one machine to another.

    python -m bench.amqp_probe serve AMQP_URI
    python -m bench.amqp_probe run AMQP_URI SECONDS IN_FLIGHT
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import pika

QUEUE = "bench-probe-echo"
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


def serve(uri: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    channel = connection.channel()
    channel.queue_declare(QUEUE, auto_delete=True)
    channel.basic_qos(prefetch_count=64)

    def echo(ch: Any, method: Any, properties: Any, body: bytes) -> None:
        reply = pika.BasicProperties(correlation_id=properties.correlation_id)
        ch.basic_publish("", properties.reply_to, body, reply)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(QUEUE, echo)
    print("ready", flush=True)
    channel.start_consuming()


def run(uri: str, seconds: float, in_flight: int) -> dict[str, float]:
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    channel = connection.channel()
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    next_id = 0
    deadline = time.monotonic() + seconds

    def send() -> None:
        nonlocal next_id
        next_id += 1
        correlation_id = str(next_id)
        sent_at[correlation_id] = time.perf_counter()
        channel.basic_publish(
            "", QUEUE, b"[1,2,3]",
            pika.BasicProperties(reply_to=DIRECT_REPLY_TO, correlation_id=correlation_id),
        )  # fmt: skip

    def on_reply(ch: Any, method: Any, properties: Any, body: bytes) -> None:
        latencies.append(time.perf_counter() - sent_at.pop(properties.correlation_id))
        if time.monotonic() < deadline:
            send()
        elif not sent_at:
            ch.stop_consuming()

    channel.basic_consume(DIRECT_REPLY_TO, on_reply, auto_ack=True)
    started = time.monotonic()
    for _ in range(in_flight):
        send()
    channel.start_consuming()
    elapsed = time.monotonic() - started
    connection.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "requests": len(latencies),
    }


def main() -> None:
    command, uri, *rest = sys.argv[1:]
    if command == "serve":
        serve(uri)
    else:
        seconds, in_flight = float(rest[0]), int(rest[1])
        print(json.dumps(run(uri, seconds, in_flight)))


if __name__ == "__main__":
    main()
