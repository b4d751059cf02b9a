"""The stack on three RabbitMQ nodes: `docker compose -f docker-compose.yml -f
docker-compose.cluster.yml up`, driven as a user would.

The three brokers form one cluster with the Erlang cookie from the environment, the
event queue is a quorum queue replicated on all three and the RPC queues transient
classic ones, Prometheus scrapes every node, and when the node holding rpc-calc is
killed, sums are served again within 30 s and the killed node rejoins when it is started
again. One compose project for the
module, torn down with `down -v` whatever happens; the node-killing test runs last.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.waiting import answers_ok, wait_for
from harness.compose import ComposeStack, brought_up, compose_stack
from harness.engine_lock import waits_for_the_engine
from harness.log_entries import logged_request_ids

pytestmark = waits_for_the_engine
TIMEOUT = 10
FILES = ("docker-compose.yml", "docker-compose.cluster.yml")
# Each Erlang node and the compose service that runs it: node 1 is docker-compose.yml's
# `rabbitmq`, made a cluster node by the override.
SERVICE_OF = {
    "rabbit@rabbitmq1": "rabbitmq",
    "rabbit@rabbitmq2": "rabbitmq2",
    "rabbit@rabbitmq3": "rabbitmq3",
}
# The queues the services declare: calc's and log's RPC queues and the event queue.
RPC_QUEUES = {"rpc-calc", "rpc-log"}
EVENT_QUEUE = "evt-gateway-sum_computed--log.record_sum"
BACK_WITHIN = 30.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[ComposeStack]:
    compose = compose_stack(files=FILES, RABBITMQ_ERLANG_COOKIE=secrets.token_hex(20),
                            COMPOSE_PROFILES="monitoring")  # fmt: skip
    with brought_up(compose) as up:
        yield up


def running_nodes(stack: ComposeStack, service: str) -> set[str]:
    status = json.loads(stack.in_container(service, "rabbitmq-diagnostics", "-q",
                                           "cluster_status", "--formatter", "json"))  # fmt: skip
    return set(status["running_nodes"])


def queues(stack: ComposeStack, service: str = "rabbitmq") -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = json.loads(stack.in_container(
        service, "rabbitmqctl", "-q", "list_queues", "name", "type", "durable",
        "exclusive", "members", "leader", "--formatter", "json",
    ))  # fmt: skip
    return listed


def holder_of(stack: ComposeStack, queue: str, among: tuple[str, ...] = ()) -> str:
    """The compose service (of `among`, or any) whose node holds a classic queue: the
    node that lists it as local."""
    return next(
        service
        for service in among or tuple(SERVICE_OF.values())
        if queue
        in stack.in_container(
            service, "rabbitmqctl", "-q", "list_queues", "--local", "name"
        ).split()
    )


def a_sum(stack: ComposeStack, request_id: str) -> bool:
    try:
        answer = requests.get(stack.base_url + "/sum?numbers=40,2",
                              headers={"X-Request-ID": request_id}, timeout=TIMEOUT)  # fmt: skip
    except requests.RequestException:
        return False
    return answer.status_code == 200 and answer.json()["result"] == 42


def logged(stack: ComposeStack, request_id: str) -> bool:
    return request_id in logged_request_ids(stack.base_url)


def test_the_three_brokers_form_one_cluster_with_the_cookie_from_the_environment(
    cluster: ComposeStack,
) -> None:
    cookie = cluster.env["RABBITMQ_ERLANG_COOKIE"]
    # What `erlang_cookie_hash` prints: base64 of the MD5 of the cookie.
    expected_hash = base64.b64encode(hashlib.md5(cookie.encode()).digest()).decode()
    for service in SERVICE_OF.values():
        assert running_nodes(cluster, service) == set(SERVICE_OF), service
        # The CLI without the variable reads $HOME/.erlang.cookie, which the entrypoint
        # wrote: it reaches the node, and the node runs with the cookie from .env (not
        # the one an image may carry in its data directory).
        without_variable = (
            "unset RABBITMQ_ERLANG_COOKIE; "
            'stat -c %a "$HOME/.erlang.cookie"; rabbitmq-diagnostics -q erlang_cookie_hash'
        )
        mode, node_hash = cluster.in_container(service, "sh", "-c", without_variable).split()
        assert (mode, node_hash) == ("400", expected_hash), service
        for container in cluster.container_ids(service):
            assert cookie not in cluster.logs(container), service
            assert cluster.env["BROKER_PASSWORD"] not in cluster.logs(container), service


def test_events_are_on_a_quorum_queue_of_all_three_nodes_and_calls_on_classic_ones(
    cluster: ComposeStack,
) -> None:
    listed = {q["name"]: q for q in queues(cluster)}
    durable = {name: q for name, q in listed.items() if q["durable"] and not q["exclusive"]}
    assert EVENT_QUEUE in durable, sorted(durable)
    for name, queue in durable.items():
        assert queue["type"] == "quorum", (name, queue)
        assert set(queue["members"]) == set(SERVICE_OF), (name, queue)
    for name in RPC_QUEUES:
        assert (listed[name]["type"], listed[name]["durable"]) == ("classic", False), name
    # Reply queues stay exclusive classic queues, one per connection.
    assert all(q["type"] == "classic" for q in listed.values() if q["exclusive"])


def test_prometheus_scrapes_every_node(cluster: ComposeStack) -> None:
    wait_for(lambda: answers_ok(cluster.prometheus_url + "/-/ready"), 60, "Prometheus ready")

    def rabbitmq_targets() -> dict[str, str]:
        answer = requests.get(cluster.prometheus_url + "/api/v1/targets",
                              params={"state": "active"}, timeout=TIMEOUT)  # fmt: skip
        return {
            t["labels"]["instance"]: t["health"]
            for t in answer.json()["data"]["activeTargets"]
            if t["labels"]["job"] == "rabbitmq"
        }

    expected = {f"rabbitmq{n}:15692": "up" for n in (1, 2, 3)}
    try:
        wait_for(lambda: rabbitmq_targets() == expected, 60, "three rabbitmq targets up", 1)
    except TimeoutError:
        raise AssertionError(f"rabbitmq targets: {rabbitmq_targets()}")


def test_sums_are_served_again_within_30s_of_killing_the_node_holding_rpc_calc(
    cluster: ComposeStack,
) -> None:
    assert a_sum(cluster, "cluster-before")
    service = holder_of(cluster, "rpc-calc")
    leader = next(node for node, name in SERVICE_OF.items() if name == service)
    survivor = next(s for s in SERVICE_OF.values() if s != service)
    (container,) = cluster.container_ids(service)

    subprocess.run(["docker", "kill", container], check=True, capture_output=True)
    killed_at = time.monotonic()
    served = f"cluster-after-{uuid.uuid4().hex[:8]}"
    try:
        wait_for(lambda: a_sum(cluster, served), BACK_WITHIN, f"a sum after killing {leader}", 0.5)
    except TimeoutError:
        states = {s: running_nodes(cluster, s) for s in SERVICE_OF.values() if s != service}
        raise AssertionError(f"no sum within {BACK_WITHIN:g}s of killing {leader}: {states}")
    back_after = time.monotonic() - killed_at
    print(f"\nkilled {leader} (holding rpc-calc): sums again after {back_after:.1f}s")
    assert back_after <= BACK_WITHIN

    # rpc-calc was declared again on a node that runs; the answered sum reaches the log.
    survivors = tuple(s for s in SERVICE_OF.values() if s != service)
    assert holder_of(cluster, "rpc-calc", among=survivors)
    wait_for(lambda: logged(cluster, served), 30, "the sum answered after the kill in /logs", 0.5)

    # Started again, the node rejoins the cluster with its data.
    cluster.run("start", service)
    wait_for(lambda: running_nodes(cluster, survivor) == set(SERVICE_OF), 120,
             f"{leader} back in the cluster", 1)  # fmt: skip
    assert a_sum(cluster, "cluster-rejoined")
