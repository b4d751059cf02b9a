"""The stack on a real two-node Docker Swarm made on this machine.

Node 2 is a second engine in its own network namespace; images reach it through a
throwaway registry on the link between the nodes. The stack is deployed from
docker-stack.yml with the no-IPVS override (this kernel has no IPVS), so each node
publishes its gateway's port and the test's client balances between them, retrying a
refused request on the other node as a load balancer would. The stack's Prometheus
(not published) is asked from inside its container. One test, in steps, because each
step starts from the state the previous one left. Last, the stack is deployed again on a
three-node RabbitMQ cluster (docker-stack.cluster.yml, brokers pinned by node labels:
two on node 1, one on node 2), which must form one cluster and serve sums on quorum
queues.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.waiting import answers_ok, free_port, wait_for
from harness.engine_lock import holding_engine, waits_for_the_engine
from harness.load import SteadyLoad
from harness.prerequisites import missing
from harness.private_engine import run
from harness.registry import LocalRegistry, RegistryUnavailable
from harness.swarm import HOST_IP, NODE_IP, SwarmUnavailable, TwoNodeSwarm

STACK = "nameko"
SERVICES = ("calc", "log", "gateway")
BROKERS = ("rabbitmq1", "rabbitmq2", "rabbitmq3")
pytestmark = waits_for_the_engine
TIMEOUT = 10
# The base images, as the registry both nodes pull from holds them.
BASE_IMAGES = {
    "library/rabbitmq:3.10": os.environ.get("RABBITMQ_IMAGE", "rabbitmq:3.10-management"),
    "library/prometheus:2.42": os.environ.get("PROMETHEUS_IMAGE", "prom/prometheus:v2.42.0"),
}


class Deployment:
    """The deployed stack: its environment, its gateways, and what its services run."""

    def __init__(self, swarm: TwoNodeSwarm, registry: LocalRegistry) -> None:
        self.swarm = swarm
        self.port = free_port()
        self.gateways = (f"http://127.0.0.1:{self.port}", f"http://{NODE_IP}:{self.port}")
        self.env = {
            **os.environ,
            "IMAGE_REGISTRY": registry.address,
            "IMAGE_TAG": "0.1.0",
            "RABBITMQ_IMAGE": f"{registry.address}/library/rabbitmq:3.10",
            "PROMETHEUS_IMAGE": f"{registry.address}/library/prometheus:2.42",
            "GATEWAY_PORT": str(self.port),
            "LOG_LEVEL": "DEBUG",
            "BROKER_USER": "app",
            "BROKER_PASSWORD": secrets.token_urlsafe(16),
            "SECRET_PREFIX": STACK,
        }

    def deploy(self, tag: str, *overrides: str) -> None:
        self.env["IMAGE_TAG"] = tag
        files = ["docker-stack.yml", *overrides, "docker-stack.no-ipvs.yml"]
        subprocess.run(
            ["docker", "stack", "deploy", "--resolve-image", "never",
             *[arg for f in files for arg in ("-c", f)], STACK],
            env=self.env, check=True, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def deploy_cluster(self, tag: str) -> None:
        """The stack with docker-stack.cluster.yml: its secrets, and node labels that put
        rabbitmq1 and rabbitmq3 on node 1 and rabbitmq2 on node 2."""
        self.env["RABBITMQ_ERLANG_COOKIE"] = secrets.token_hex(20)
        subprocess.run(["deploy/swarm/create-secrets", "--cluster"], env=self.env, check=True,
                       capture_output=True, text=True)  # fmt: skip
        nodes = run("docker", "node", "ls", "--format", "{{.ID}} {{.Self}}").stdout.split("\n")
        ids = {self_ == "true": node for node, self_ in (line.split() for line in nodes if line)}
        run("docker", "node", "update", "--label-add", "nameko.rabbitmq1=true",
            "--label-add", "nameko.rabbitmq3=true", ids[True])  # fmt: skip
        run("docker", "node", "update", "--label-add", "nameko.rabbitmq2=true", ids[False])
        self.deploy(tag, "docker-stack.cluster.yml")

    def in_broker(self, broker: str, *command: str) -> str:
        """A command's output in a broker's container on node 1 (rabbitmq1 is there)."""
        (container,) = run(
            "docker", "ps", "-q", "--filter", f"name={STACK}_{broker}."
        ).stdout.split()
        return run("docker", "exec", container, *command).stdout

    def running(self, service: str) -> list[dict[str, str]]:
        tasks = run("docker", "service", "ps", f"{STACK}_{service}", "--filter",
                    "desired-state=running", "--format", "{{json .}}").stdout  # fmt: skip
        return [
            t
            for t in map(json.loads, tasks.splitlines())
            if t["CurrentState"].startswith("Running")
        ]

    def converged(self, replicas: dict[str, int], tag: str) -> bool:
        for service, count in replicas.items():
            tasks = self.running(service)
            if len(tasks) != count or any(not t["Image"].endswith(f":{tag}") for t in tasks):
                return False
        return all(answers_ok(url + "/ready") for url in self.gateways)

    def tasks(self) -> str:
        """Every task of the stack, for a failure's message."""
        return run("docker", "stack", "ps", STACK, "--no-trunc", "--format",
                   "{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}").stdout  # fmt: skip

    def calc_containers(self) -> dict[str, list[str]]:
        """calc's containers on each engine (node 1 here, node 2 in its namespace)."""
        name = f"name={STACK}_calc."
        return {
            "node1": run("docker", "ps", "-q", "--filter", name).stdout.split(),
            "node2": self.swarm.node2("ps", "-q", "--filter", name).stdout.split(),
        }

    def sums_served_by_node(self) -> dict[str, int]:
        served = {}
        for node, containers in self.calc_containers().items():
            docker = ["docker"] if node == "node1" else ["docker", "-H", self.swarm.node2_socket]
            served[node] = sum(
                subprocess.run([*docker, "logs", c], capture_output=True, text=True).stdout.count(
                    '"summed 2 numbers"'
                )
                for c in containers
            )
        return served

    def prometheus_query(self, expression: str) -> list[dict[str, Any]] | None:
        """An instant query, asked of the stack's Prometheus inside its container (it is
        not published) on node 1, the manager; None while it cannot answer."""
        containers = run("docker", "ps", "-q", "--filter", f"name={STACK}_prometheus.").stdout
        if not containers.split():
            return None
        query = ["promtool", "query", "instant", "-o", "json", "http://localhost:9090", expression]
        asked = run("docker", "exec", containers.split()[0], *query, check=False)
        if asked.returncode != 0:
            return None
        answer: list[dict[str, Any]] = json.loads(asked.stdout)
        return answer

    def stored_request_ids(self) -> set[str]:
        volume = json.loads(run("docker", "volume", "inspect", f"{STACK}_log-data").stdout)[0]
        store = Path(volume["Mountpoint"]) / "log-store.sqlite3"
        with sqlite3.connect(store) as db:
            return {row[0] for row in db.execute("SELECT request_id FROM entries")}

    def remove(self) -> None:
        run("docker", "stack", "rm", STACK, check=False)

        # Stopped containers too: one not yet removed still holds its volume.
        def gone() -> bool:
            return not run("docker", "ps", "-aq", "--filter", f"name={STACK}_").stdout.strip()

        wait_for(gone, 90, "the stack's containers to go")
        for name in ("amqp_uri", "rabbitmq_definitions", "amqp_uri_cluster", "erlang_cookie"):
            run("docker", "secret", "rm", f"{STACK}_{name}", check=False)
        run("docker", "config", "rm", f"{STACK}_prometheus_cluster_yml", check=False)
        volumes = ("rabbitmq-data", "log-data", "prometheus-data", *(f"{b}-data" for b in BROKERS))
        for volume in volumes:
            run("docker", "volume", "rm", f"{STACK}_{volume}", check=False)


def push_images(registry: LocalRegistry, tags: tuple[str, ...]) -> None:
    """The images Pants built (and RabbitMQ's) into the registry both nodes pull from."""
    targets = {
        f"nameko-stack/{s}:{tag}": f"nameko-stack/{s}:latest" for s in SERVICES for tag in tags
    }
    for target, source in {**targets, **BASE_IMAGES}.items():
        run("docker", "tag", source, f"{registry.address}/{target}")
        run("docker", "push", f"{registry.address}/{target}")


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    # The engine alone: leaving the swarm would cut any Compose stack off its network.
    with holding_engine(alone=True):
        yield from deployed_on_a_new_swarm()


def deployed_on_a_new_swarm() -> Iterator[Deployment]:
    try:
        swarm = TwoNodeSwarm()
    except SwarmUnavailable as exc:
        missing(str(exc))
    registry = None
    deployed = None
    try:
        swarm.make_network()
        registry = LocalRegistry(HOST_IP)
        push_images(registry, ("0.1.0", "0.1.1"))
        swarm.start(registry.address)
        deployed = Deployment(swarm, registry)
        deployed.remove()  # a clean slate: the volumes an interrupted run left
        subprocess.run(["deploy/swarm/create-secrets"], env=deployed.env, check=True,
                       capture_output=True, text=True)  # fmt: skip
        yield deployed
    except RegistryUnavailable as exc:
        missing(str(exc))
    finally:
        if deployed is not None:
            deployed.remove()
        swarm.close()
        if registry is not None:
            registry.close()


def test_the_stack_on_two_nodes_deploys_rolls_scales_and_survives_a_lost_node(
    deployment: Deployment,
) -> None:
    replicas = {"calc": 2, "log": 1, "gateway": 2}
    deployment.deploy("0.1.0")
    try:
        wait_for(lambda: deployment.converged(replicas, "0.1.0"), 240, "the stack on both nodes", 2)
    except TimeoutError:
        raise AssertionError(f"the stack did not converge:\n{deployment.tasks()}")

    # The API answers on both nodes' gateways.
    for gateway in deployment.gateways:
        response = requests.get(gateway + "/sum?numbers=40,2", timeout=TIMEOUT)
        assert response.json()["result"] == 42

    # calc replicas on both nodes serve calls (RabbitMQ spreads them over consumers).
    for n in range(60):
        requests.get(deployment.gateways[n % 2] + f"/sum?numbers={n},1", timeout=TIMEOUT)

    def all_sums_logged() -> dict[str, int] | None:
        served = deployment.sums_served_by_node()
        return served if sum(served.values()) >= 60 else None

    served = wait_for(all_sums_logged, 30, "calc's logs of the 60 sums")
    assert served["node1"] > 0 and served["node2"] > 0, served

    # Prometheus scrapes every task on either node, as the jobs the alert rules name, and
    # RabbitMQ's per-queue metrics.
    expected = {"gateway": 2, "calc": 2, "log": 1, "rabbitmq": 1}

    def every_task_up() -> Counter[str] | None:
        up = deployment.prometheus_query("up") or []
        jobs = Counter(series["metric"]["job"] for series in up if series["value"][1] == "1")
        return jobs if all(jobs[job] == count for job, count in expected.items()) else None

    try:
        wait_for(every_task_up, 90, "Prometheus to scrape every task", 2)
    except TimeoutError:
        raise AssertionError(f"up: {deployment.prometheus_query('up')}\n{deployment.tasks()}")
    consumers = deployment.prometheus_query('sum(rabbitmq_queue_consumers{queue="rpc-calc"})')
    assert consumers and float(consumers[0]["value"][1]) >= 1, consumers

    # A rolling update to a new tag under steady load: no request fails.
    load = SteadyLoad(deployment.gateways[0], clients=4, max_seconds=180, label="rollout",
                      failover_urls=deployment.gateways[1:])  # fmt: skip
    deployment.deploy("0.1.1")
    wait_for(lambda: deployment.converged(replicas, "0.1.1"), 180, "the update to 0.1.1", 2)
    rolled = load.stop()
    assert rolled.failed == 0, rolled.outcomes
    assert rolled.ok > 100

    # Scaling calc up and down.
    run("docker", "service", "scale", f"{STACK}_calc=4", "--detach")
    wait_for(lambda: len(deployment.running("calc")) == 4, 120, "4 calc replicas", 1)
    run("docker", "service", "scale", f"{STACK}_calc=2", "--detach")
    wait_for(lambda: len(deployment.running("calc")) == 2, 120, "2 calc replicas", 1)

    # Cut node 2 off: service comes back within 60 s, and no answered sum is lost.
    load = SteadyLoad(deployment.gateways[0], clients=4, max_seconds=150, timeout=3,
                      label="cut", failover_urls=deployment.gateways[1:])  # fmt: skip
    load.wait_for_requests(50)
    cut_at = time.monotonic()
    deployment.swarm.cut_node2()
    try:
        wait_for(lambda: "Down" in deployment.swarm.node_states().values(), 60, "node 2 Down", 1)

        def served_again() -> bool:
            before = load.result.ok
            time.sleep(2)
            return load.result.ok - before >= 20

        try:
            wait_for(served_again, 60, "sums served again after the cut", 0)
        except TimeoutError:
            raise AssertionError(f"{load.result.outcomes}\n{deployment.tasks()}")
        back_after = time.monotonic() - cut_at
    finally:
        deployment.swarm.restore_node2()
    survived = load.stop()
    assert back_after < 60 + 5, back_after
    wait_for(lambda: set(rolled.request_ids + survived.request_ids)
             <= deployment.stored_request_ids(), 60, "every answered sum in the log")  # fmt: skip

    # The stack again, on three RabbitMQ nodes: one cluster, events on all three.
    deployment.remove()
    wait_for(lambda: deployment.swarm.ready_nodes() == 2, 90, "both nodes Ready again", 1)
    deployment.deploy_cluster("0.1.1")

    def cluster_converged() -> bool:
        brokers = all(len(deployment.running(broker)) == 1 for broker in BROKERS)
        return brokers and deployment.converged(replicas, "0.1.1")

    try:
        wait_for(cluster_converged, 300, "the stack on a three-node cluster", 2)
    except TimeoutError:
        raise AssertionError(f"the cluster stack did not converge:\n{deployment.tasks()}")
    assert deployment.running("rabbitmq") == []

    def cluster_nodes() -> set[str]:
        status = deployment.in_broker(
            "rabbitmq1", "rabbitmq-diagnostics", "-q", "cluster_status", "--formatter", "json"
        )
        return set(json.loads(status)["running_nodes"])

    # The services need rabbitmq1 alone to be ready; the other two join it meanwhile.
    try:
        wait_for(lambda: cluster_nodes() == {f"rabbit@{b}" for b in BROKERS}, 180,
                 "one cluster of the three brokers", 2)  # fmt: skip
    except TimeoutError:
        raise AssertionError(f"running nodes: {cluster_nodes()}\n{deployment.tasks()}")
    for gateway in deployment.gateways:
        response = requests.get(gateway + "/sum?numbers=40,2", timeout=TIMEOUT)
        assert response.json()["result"] == 42
    # Queues declared while rabbitmq1 ran alone have it as their only member (Swarm starts
    # the services with the brokers, in no order): grown onto the others, as an operator
    # does after a stack's first deployment (docker-stack.cluster.yml says so).
    for broker in BROKERS[1:]:
        deployment.in_broker(
            "rabbitmq1", "rabbitmq-queues", "-q", "grow", f"rabbit@{broker}", "all"
        )
    queues = json.loads(deployment.in_broker(
        "rabbitmq1", "rabbitmqctl", "-q", "list_queues", "name", "type", "members",
        "--formatter", "json",
    ))  # fmt: skip
    # Events on a quorum queue of the three; calls on a transient classic queue.
    (events,) = [q for q in queues if q["name"] == "evt-gateway-sum_computed--log.record_sum"]
    assert events["type"] == "quorum"
    assert set(events["members"]) == {f"rabbit@{broker}" for broker in BROKERS}
    (rpc_calc,) = [q for q in queues if q["name"] == "rpc-calc"]
    assert rpc_calc["type"] == "classic"

    def three_brokers_scraped() -> int | None:
        up = deployment.prometheus_query('up{job="rabbitmq"} == 1') or []
        return len(up) if len(up) == 3 else None

    try:
        wait_for(three_brokers_scraped, 90, "Prometheus to scrape the three brokers", 2)
    except TimeoutError:
        raise AssertionError(f"up: {deployment.prometheus_query('up')}")
