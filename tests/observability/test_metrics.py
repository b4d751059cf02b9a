"""A real Prometheus scrapes the packaged services: what it counts is what was sent."""

from __future__ import annotations

from pathlib import Path

import requests

from devstack.processes import PackagedStack
from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.packaged import StackFactory
from harness.prerequisites import missing
from harness.prometheus import NO_PROMETHEUS, PrometheusServer, prometheus_installed

ALERTS = Path("deploy/prometheus/alerts.yml")
SUMS, BAD_REQUESTS = 23, 7


def scrape_targets(stack: PackagedStack) -> dict[str, list[str]]:
    """The jobs the alert rules name: the gateway's HTTP port, calc's and log's METRICS_PORT."""
    targets: dict[str, list[str]] = {"gateway": [f"127.0.0.1:{stack.port}"]}
    for process in stack.processes:
        if process.name != "gateway":
            targets.setdefault(process.name, []).append(f"127.0.0.1:{process.env['METRICS_PORT']}")
    return targets


def test_prometheus_counts_exactly_the_sums_and_the_refusals_sent(
    amqp_uri: str, stack_factory: StackFactory, tmp_path: Path, cleanup: Cleanup
) -> None:
    if not prometheus_installed():
        missing(NO_PROMETHEUS)
    stack = stack_factory(amqp_uri)
    stack.start_all()
    stack.wait_ready()
    prometheus = PrometheusServer(tmp_path, scrape_targets(stack), rule_files=(ALERTS,))
    cleanup(prometheus.stop)

    session = requests.Session()
    for n in range(SUMS):
        assert session.get(f"{stack.base_url}/sum?numbers={n},1", timeout=10).status_code == 200
    for n in range(BAD_REQUESTS):
        assert session.get(f"{stack.base_url}/sum?numbers={n},x", timeout=10).status_code == 400

    def once_scraped(expression: str, expected: float) -> None:
        wait_for(lambda: prometheus.value(expression) == expected, 30,
                 f"{expression} == {expected} (now {prometheus.value(expression)})")  # fmt: skip

    # The gateway: every answer by status, and its handler's workers by outcome.
    once_scraped(
        'sum(http_requests_total{job="gateway",method="GET",route="/sum",code="200"})', SUMS
    )
    once_scraped('sum(http_requests_total{job="gateway",route="/sum",code=~"4.."})', BAD_REQUESTS)
    once_scraped('sum(entrypoint_requests_total{job="gateway",entrypoint="GET /sum",outcome="ok"})',
                 SUMS)  # fmt: skip
    once_scraped(
        'sum(entrypoint_requests_total{job="gateway",entrypoint="GET /sum",'
        'outcome="expected_error"})',
        BAD_REQUESTS,
    )
    once_scraped('sum(rpc_client_calls_total{job="gateway",target="calc.sum",outcome="ok"})', SUMS)
    once_scraped('sum(events_published_total{job="gateway",outcome="confirmed"})', SUMS)
    # calc and log agree: a bad request never reached them.
    once_scraped('sum(entrypoint_requests_total{job="calc",entrypoint="sum",outcome="ok"})', SUMS)
    failed = 'entrypoint_requests_total{job="calc",entrypoint="sum",outcome!="ok"}'
    once_scraped(f"sum({failed}) or vector(0)", 0)
    once_scraped('sum(entrypoint_requests_total{job="log",entrypoint="record_sum",outcome="ok"})',
                 SUMS)  # fmt: skip
    once_scraped('sum(events_consumed_total{job="log",handler="record_sum"})', SUMS)
    once_scraped('sum(log_store_entries{job="log"})', SUMS)
    once_scraped('min(amqp_connection_up{job=~"gateway|calc|log"})', 1)

    # Bounded labels: routes by template, never by raw path or request id.
    routes = {s["route"] for s in prometheus.api("series", **{"match[]": "http_requests_total"})}
    assert routes <= {"/sum", "/ready", "/metrics", "/health", "/logs", "/openapi.json",
                      "unmatched"}, routes  # fmt: skip
    rules = {r["name"] for g in prometheus.api("rules")["groups"] for r in g["rules"]}
    assert "CalcHasNoConsumer" in rules and "BrokerConnectionDown" in rules
