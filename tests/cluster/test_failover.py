"""The stack on a three-node RabbitMQ cluster (``QUEUE_TYPE=quorum``: a quorum queue for
events, a transient classic queue per RPC service), under steady load, while the node
holding a queue is killed and brought back: first the event queue's leader, then the node
of ``rpc-calc``. Every sum answered 200 is in the log exactly once; a request that fails
fails with the JSON 503 or 504 within its deadline, and a call times out only if it was
in flight when its queue went; service is back within 15 s."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from devstack.processes import PackagedStack
from devstack.rabbit_cluster import PrivateCluster
from devstack.rabbit_node import NoRabbitServer
from devstack.waiting import wait_for
from harness.load import LoadResult, SteadyLoad
from harness.packaged import StackFactory
from harness.prerequisites import missing
from log.store import EntryStore

EVENT_QUEUE = "evt-gateway-sum_computed--log.record_sum"
RPC_TIMEOUT = CONFIRM_TIMEOUT = 5
# The longest a request may take: its RPC deadline, then its confirm deadline.
DEADLINE = RPC_TIMEOUT + CONFIRM_TIMEOUT
CLEAN_FAILURES = {"503 broker_unavailable", "503 event_not_stored", "503 service_unavailable",
                  "504 timeout"}  # fmt: skip
BACK_WITHIN = 15.0
CLIENTS = 8


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    try:
        made = PrivateCluster(3)
    except NoRabbitServer as exc:
        missing(str(exc))
    try:
        made.start()
        yield made
    finally:
        made.close()


def kill_and_restore(cluster: PrivateCluster, queue: str, load: SteadyLoad) -> float:
    """Kill the node leading `queue`, let the load run on, start the node again; the
    seconds until requests stopped failing (0 if none failed)."""
    node = cluster.leader_of(queue)
    killed_at = time.monotonic()
    node.kill()
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 300, timeout=60)  # served by the other two nodes
    node.start()
    cluster.wait_formed()
    load.wait_for_requests(sum(load.result.outcomes.values()) + 200, timeout=60)
    return load.result.last_failure_after(killed_at, within=60) or 0.0


@contextmanager
def link_cut(port: int) -> Iterator[None]:
    """Every packet to or from loopback `port` dropped, silently (no reset): to its
    clients the node is gone, though it runs on and stays in its cluster."""
    rules = [["INPUT", "-i", "lo", "-p", "tcp", flag, str(port), "-j", "DROP"]
             for flag in ("--dport", "--sport")]  # fmt: skip
    for rule in rules:
        subprocess.run(["iptables", "-I", *rule], check=True, capture_output=True)
    try:
        yield
    finally:
        for rule in rules:
            subprocess.run(["iptables", "-D", *rule], check=True, capture_output=True)


def start_stack(cluster: PrivateCluster, stack_factory: StackFactory) -> PackagedStack:
    """Two calc replicas, log and the gateway on quorum queues, given every node."""
    stack = stack_factory(
        cluster.uri(),
        QUEUE_TYPE="quorum",
        RPC_TIMEOUT=str(RPC_TIMEOUT),
        CONFIRM_TIMEOUT=str(CONFIRM_TIMEOUT),
        HEARTBEAT="2",
    )
    for service in ("calc", "calc", "log", "gateway"):
        stack.start(service)
    stack.wait_ready(60)
    return stack


def logged(stack: PackagedStack) -> list[str]:
    store = EntryStore(str(stack.store_path))
    try:
        return [entry.request_id for entry in store.recent(10**6)]
    finally:
        store.close()


def report(result: LoadResult, recoveries: dict[str, float], lost: int) -> None:
    print(
        f"\nrequests {sum(result.outcomes.values())}, answered 200 {result.ok}, "
        f"failed {result.failed} {dict(result.outcomes)}; "
        + ", ".join(f"{what}: back after {seconds:.1f}s" for what, seconds in recoveries.items())
        + f"; events lost: {lost}"
    )


def test_killing_the_leading_nodes_loses_no_answered_sum(
    cluster: PrivateCluster, stack_factory: StackFactory
) -> None:
    stack = start_stack(cluster, stack_factory)
    started = time.monotonic()
    load = SteadyLoad(stack.base_url, clients=CLIENTS, max_seconds=240, max_requests=50_000,
                      timeout=DEADLINE + 5)  # fmt: skip
    load.wait_for_requests(300)

    recoveries = {
        "event queue leader killed": kill_and_restore(cluster, EVENT_QUEUE, load),
        "rpc-calc's node killed": kill_and_restore(cluster, "rpc-calc", load),
    }
    if time.monotonic() - started < 30:
        load.wait_for_requests(sum(load.result.outcomes.values()) + 1, timeout=60)
        keep_loading_until(started + 30, load)
    result = load.stop()

    wait_for(lambda: set(result.request_ids) <= set(logged(stack)), 60, "every answered sum logged")
    entries = logged(stack)
    lost = len(set(result.request_ids) - set(entries))
    report(result, recoveries, lost)
    assert lost == 0
    answered = set(result.request_ids)
    assert all(entries.count(request_id) == 1 for request_id in answered), "once each"
    assert set(result.outcomes) <= {"200"} | CLEAN_FAILURES, result.outcomes
    # Fast failures, not deadlines: the broker deletes a dead node's RPC queue, and a call
    # to it comes back unroutable at once. Only calls in flight (one per client) wait.
    assert result.outcomes.get("504 timeout", 0) <= 2 * CLIENTS, result.outcomes
    assert result.ok > 1000, result.outcomes
    assert not any(
        "guest:guest" in p.output() for p in stack.processes
    ), "no node's password logged"
    for what, seconds in recoveries.items():
        assert seconds <= BACK_WITHIN, f"{what}: requests failed for {seconds:.1f}s"


def test_cutting_the_clients_link_to_a_node_fails_over_without_hanging(
    cluster: PrivateCluster, stack_factory: StackFactory
) -> None:
    """The node every service connected to (the first one named) becomes unreachable
    without a reset: heartbeats find it out, and the services go to the others."""
    if shutil.which("iptables") is None or os.geteuid() != 0:
        missing("cutting a link needs root and iptables (apt-get install iptables)")
    stack = start_stack(cluster, stack_factory)
    load = SteadyLoad(stack.base_url, clients=CLIENTS, max_seconds=120, max_requests=50_000,
                      timeout=DEADLINE + 5)  # fmt: skip
    load.wait_for_requests(300)
    with link_cut(cluster.nodes[0].port):
        cut_at = time.monotonic()
        load.wait_for_requests(sum(load.result.outcomes.values()) + 500, timeout=60)
        back_after = load.result.last_failure_after(cut_at, within=60) or 0.0
    load.wait_for_requests(sum(load.result.outcomes.values()) + 200, timeout=60)
    result = load.stop()

    wait_for(lambda: set(result.request_ids) <= set(logged(stack)), 60, "every answered sum logged")
    entries = logged(stack)
    lost = len(set(result.request_ids) - set(entries))
    report(result, {"clients' link to a node cut": back_after}, lost)
    assert lost == 0
    assert all(entries.count(request_id) == 1 for request_id in set(result.request_ids))
    assert set(result.outcomes) <= {"200"} | CLEAN_FAILURES, result.outcomes
    assert back_after <= BACK_WITHIN, f"requests failed for {back_after:.1f}s"


def keep_loading_until(deadline: float, load: SteadyLoad) -> None:
    """Keep the load running until `deadline` (at least 30 s of load in all)."""
    while time.monotonic() < deadline:
        load.wait_for_requests(sum(load.result.outcomes.values()) + 50, timeout=30)
