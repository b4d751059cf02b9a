"""The whole stack from `docker compose up`, driven as a user would."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from devstack.images import image_bytes
from devstack.waiting import answers_ok, wait_for
from harness.compose import ComposeStack, EngineUnavailable
from harness.prerequisites import missing

TIMEOUT = 10
# The performance issue's bound on each runtime image, in the units `docker images` shows.
MAX_IMAGE_BYTES = 200_000_000


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    try:
        compose = ComposeStack(LOG_LEVEL="DEBUG")
    except EngineUnavailable as exc:
        missing(str(exc))
    try:
        compose.up()
        compose.wait_healthy("gateway")
        wait_for(lambda: ready(compose.base_url), 60, "the gateway to be ready", interval=0.5)
        yield compose
    finally:
        compose.down()


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
        entries = requests.get(stack.base_url + "/logs?limit=50", timeout=TIMEOUT).json()["entries"]
        return [e for e in entries if e["request_id"] == "compose-log"]

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
