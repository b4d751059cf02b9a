"""The whole stack from `docker compose up`, driven as a user would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from devstack.images import image_bytes
from devstack.waiting import answers_ok, wait_for
from harness.compose import ComposeStack, brought_up, compose_stack
from harness.engine_lock import waits_for_the_engine
from harness.log_entries import log_entries

pytestmark = waits_for_the_engine
TIMEOUT = 10
ALERTS = Path("deploy/prometheus/alerts.yml")
# The scrape jobs the alert rules rely on.
JOBS = ("gateway", "calc", "log", "rabbitmq")
# The performance issue's bound on each runtime image, in the units `docker images` shows.
MAX_IMAGE_BYTES = 200_000_000


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    # With Prometheus (PROMETHEUS_IMAGE, like RABBITMQ_IMAGE, names a local image where
    # no registry is reachable): it starts beside the broker, so its test hardly waits.
    with brought_up(compose_stack(LOG_LEVEL="DEBUG", COMPOSE_PROFILES="monitoring")) as up:
        yield up


def ready(base_url: str) -> bool:
    return answers_ok(base_url + "/ready", timeout=5)


def test_the_api_answers_through_the_containers(stack: ComposeStack) -> None:
    got = requests.get(stack.base_url + "/sum?numbers=1,2,3",
                       headers={"X-Request-ID": "compose-1"}, timeout=TIMEOUT)  # fmt: skip
    assert (got.status_code, got.json()) == (200, {"result": 6, "request_id": "compose-1"})
    posted = requests.post(stack.base_url + "/sum", json={"numbers": [1e16, 1.0, -1e16]},
                           timeout=TIMEOUT)  # fmt: skip
    assert posted.json()["result"] == 1.0
    bad = requests.post(stack.base_url + "/sum", json={"numbers": ["x"]}, timeout=TIMEOUT)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_numbers")
    assert bad.headers["X-Request-ID"]


def test_the_log_container_records_each_sum(stack: ComposeStack) -> None:
    requests.get(stack.base_url + "/sum?numbers=40,2", headers={"X-Request-ID": "compose-log"},
                 timeout=TIMEOUT)  # fmt: skip

    def entry() -> list[dict[str, object]]:
        return [e for e in log_entries(stack.base_url, 50) if e["request_id"] == "compose-log"]

    (recorded,) = wait_for(entry, 20, "the entry in /logs")
    assert recorded["payload"] == {"numbers": [40, 2], "result": 42}
    (log_container,) = stack.container_ids("log")
    lines = [json.loads(line) for line in stack.logs(log_container).splitlines()]
    assert any(
        line.get("message") == "sum computed" and line.get("request_id") == "compose-log"
        for line in lines
    )


def test_services_run_as_non_root_and_only_the_gateway_is_published(stack: ComposeStack) -> None:
    for service in ("calc", "log", "gateway"):
        (container,) = stack.container_ids(service)
        config = stack.inspect(container)["Config"]
        assert config["User"] == "10001:10001"
        assert config["Env"] and any(e == "PYTHONUNBUFFERED=1" for e in config["Env"])
        published = stack.inspect(container)["HostConfig"]["PortBindings"] or {}
        assert bool(published) == (service == "gateway"), (service, published)
    (rabbitmq,) = stack.container_ids("rabbitmq")
    bindings = stack.inspect(rabbitmq)["HostConfig"]["PortBindings"]
    assert "5672/tcp" not in bindings
    assert all(b["HostIp"] == "127.0.0.1" for b in bindings["15672/tcp"])


def test_services_are_locked_down_and_no_log_holds_the_broker_password(
    stack: ComposeStack,
) -> None:
    for service in ("calc", "log", "gateway"):
        (container,) = stack.container_ids(service)
        host = stack.inspect(container)["HostConfig"]
        assert host["ReadonlyRootfs"] is True, service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
        assert host["CapDrop"] == ["ALL"], service
    (rabbitmq,) = stack.container_ids("rabbitmq")
    assert "no-new-privileges:true" in stack.inspect(rabbitmq)["HostConfig"]["SecurityOpt"]
    for service in ("calc", "log", "gateway", "rabbitmq"):
        for container in stack.container_ids(service):
            assert stack.env["BROKER_PASSWORD"] not in stack.logs(container), service


def test_nameko_shell_in_a_container_calls_the_services(stack: ComposeStack) -> None:
    shell = stack.run("exec", "-T", "gateway", "/app/pex", "shell",
                      input="print('SUM', n.rpc.calc.sum([1, 2, 3]))\n")  # fmt: skip
    assert "SUM 6" in shell.stdout, shell.stdout + shell.stderr
    assert stack.env["BROKER_PASSWORD"] not in shell.stdout + shell.stderr


def test_calc_scales_and_calls_spread_over_the_replicas(stack: ComposeStack) -> None:
    stack.up("--scale", "calc=2")
    stack.wait_healthy("calc", replicas=2)
    for n in range(40):
        response = requests.get(stack.base_url + f"/sum?numbers={n},1", timeout=TIMEOUT)
        assert response.status_code == 200

    def served_by_each() -> list[int] | None:
        counts = [
            stack.logs(container).count('"summed 2 numbers"')
            for container in stack.container_ids("calc")
        ]
        return counts if sum(counts) >= 40 else None

    counts = wait_for(served_by_each, 20, "calc logs of all 40 sums")
    assert len(counts) == 2
    assert all(count > 0 for count in counts), counts


def prometheus(stack: ComposeStack, path: str, **params: str) -> Any:
    """The data of one Prometheus HTTP API answer, on its published loopback port."""
    answer = requests.get(f"{stack.prometheus_url}/api/v1/{path}", params=params, timeout=TIMEOUT)
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    return body["data"]


def container_ip(stack: ComposeStack, container: str) -> str:
    networks = stack.inspect(container)["NetworkSettings"]["Networks"]
    (network,) = networks.values()
    address: str = network["IPAddress"]
    return address


def test_prometheus_scrapes_every_replica_and_the_broker_with_the_alert_rules(
    stack: ComposeStack,
) -> None:
    stack.up("--scale", "calc=2")
    stack.wait_healthy("calc", replicas=2)
    calc_ips = {container_ip(stack, c) for c in stack.container_ids("calc")}
    wait_for(lambda: answers_ok(stack.prometheus_url + "/-/ready"), 60, "Prometheus ready")

    def targets() -> dict[str, list[dict[str, Any]]]:
        by_job: dict[str, list[dict[str, Any]]] = {}
        for target in prometheus(stack, "targets", state="active")["activeTargets"]:
            by_job.setdefault(target["labels"]["job"], []).append(target)
        return by_job

    def all_up() -> dict[str, list[dict[str, Any]]] | None:
        by_job = targets()
        calc = {t["labels"]["instance"] for t in by_job.get("calc", [])}
        every_one_up = all(
            by_job.get(job) and all(t["health"] == "up" for t in by_job[job]) for job in JOBS
        )
        return by_job if every_one_up and calc == {f"{ip}:9464" for ip in calc_ips} else None

    try:
        scraped = wait_for(all_up, 60, "every target up, both calc replicas among them", 1)
    except TimeoutError:
        now = {job: [(t["labels"]["instance"], t["health"], t["lastError"]) for t in found]
               for job, found in targets().items()}  # fmt: skip
        raise AssertionError(f"targets now: {now}; calc containers at {calc_ips}")
    assert [len(scraped[job]) for job in JOBS] == [1, 2, 1, 1]
    assert scraped["rabbitmq"][0]["labels"]["instance"] == "rabbitmq:15692"

    # RabbitMQ's per-queue metrics, which the alert rules watch.
    def consumers() -> float | None:
        result = prometheus(stack, "query", query='sum(rabbitmq_queue_consumers{queue="rpc-calc"})')
        return float(result["result"][0]["value"][1]) if result["result"] else None

    assert wait_for(consumers, 30, "rpc-calc's consumers in Prometheus", 1) >= 1

    # Every rule of alerts.yml, loaded and evaluated without an error.
    expected = {rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"]
                for rule in group["rules"]}  # fmt: skip

    def rules_evaluated() -> dict[str, str] | None:
        groups = prometheus(stack, "rules", type="alert")["groups"]
        health = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
        return health if set(health) == expected and set(health.values()) == {"ok"} else None

    try:
        wait_for(rules_evaluated, 30, "the alert rules evaluated", 1)
    except TimeoutError:
        loaded = prometheus(stack, "rules", type="alert")["groups"]
        raise AssertionError(f"expected {sorted(expected)} healthy; loaded: {loaded}")


def test_prometheus_is_locked_down_and_reached_on_loopback_only(stack: ComposeStack) -> None:
    (container,) = stack.container_ids("prometheus")
    inspected = stack.inspect(container)
    assert inspected["Config"]["User"] not in ("", "root", "0", "0:0")
    host = inspected["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert set(host["PortBindings"]) == {"9090/tcp"}
    assert all(b["HostIp"] == "127.0.0.1" for b in host["PortBindings"]["9090/tcp"])
    # The metrics ports stay on the compose network.
    (rabbitmq,) = stack.container_ids("rabbitmq")
    assert "15692/tcp" not in stack.inspect(rabbitmq)["HostConfig"]["PortBindings"]


def test_the_stack_recovers_from_a_broker_restart_by_itself(stack: ComposeStack) -> None:
    stack.run("stop", "--timeout", "30", "rabbitmq")
    down = requests.get(stack.base_url + "/sum?numbers=1", timeout=TIMEOUT)
    assert (down.status_code, down.json()["error"]["code"]) == (503, "broker_unavailable")
    stack.run("start", "rabbitmq")
    wait_for(
        lambda: requests.get(stack.base_url + "/sum?numbers=1", timeout=TIMEOUT).ok, 60,
        "sums again after the broker restart", interval=0.5,
    )  # fmt: skip
    wait_for(lambda: ready(stack.base_url), 30, "ready again", interval=0.5)


def test_sigterm_stops_a_service_cleanly(stack: ComposeStack) -> None:
    (log_container,) = stack.container_ids("log")
    stack.run("stop", "--timeout", "30", "log")
    state = stack.inspect(log_container)["State"]
    assert state["Status"] == "exited"
    assert state["ExitCode"] == 0
    assert '"log stopped"' in stack.logs(log_container)


@pytest.mark.parametrize("service", ["calc", "log", "gateway"])
def test_each_runtime_image_is_at_most_200_mb(stack: ComposeStack, service: str) -> None:
    size = image_bytes(service)
    assert size is not None and size <= MAX_IMAGE_BYTES


def test_a_new_password_in_the_environment_is_the_brokers_with_its_volume_kept(
    stack: ComposeStack,
) -> None:
    # As a fresh clone in a folder of the same name writes a new .env: the broker's volume
    # was made with the old password, and every container is recreated with the new one.
    stack.env["BROKER_PASSWORD"] = "a-new-password-" + stack.env["BROKER_PASSWORD"]
    (old_broker,) = stack.container_ids("rabbitmq")
    stack.up()
    (new_broker,) = stack.container_ids("rabbitmq")
    assert new_broker != old_broker, "the broker was recreated with the new password"
    wait_for(lambda: ready(stack.base_url), 90, "ready with the new password", interval=0.5)
    got = requests.get(stack.base_url + "/sum?numbers=4,5", timeout=TIMEOUT)
    assert (got.status_code, got.json()["result"]) == (200, 9)
