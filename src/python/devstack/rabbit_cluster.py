"""A RabbitMQ cluster of private nodes on loopback ports, for tests and the benchmark.

The first node starts alone; the others then join it by RabbitMQ's classic peer
discovery (the node list in their config), so the cluster forms without ``rabbitmqctl``.
A node can be killed and started again: it rejoins with its data, as after a crash.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from devstack.node_config import ClusterMembership
from devstack.rabbit_node import PrivateNode, node_name, stop_epmd
from devstack.waiting import free_port, wait_for


class PrivateCluster:
    def __init__(
        self,
        size: int = 3,
        users: Mapping[str, str] | None = None,
        vhosts: Sequence[str] = ("/",),
    ) -> None:
        ports = [free_port() for _ in range(size)]
        self.membership = ClusterMembership(
            cookie=secrets.token_hex(20),
            epmd_port=free_port(),
            nodes=tuple(node_name("cluster", port) for port in ports),
        )
        self.nodes = [
            PrivateNode(port=port, users=users, vhosts=vhosts, name="cluster",
                        cluster=self.membership)
            for port in ports
        ]  # fmt: skip

    def uri(self, vhost: str = "/") -> str:
        """Every node's URI, ";"-separated: a client connects to the first that answers."""
        return ";".join(node.uri(vhost=vhost) for node in self.nodes)

    def start(self, timeout: float = 120) -> None:
        """Start the first node, then the others at once; return once all have joined."""
        self.nodes[0].start(timeout)
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            for started in [pool.submit(node.start, timeout) for node in self.nodes[1:]]:
                started.result()
        self.wait_formed(timeout)

    def running(self) -> list[PrivateNode]:
        return [node for node in self.nodes if node.pid is not None]

    def wait_formed(self, timeout: float = 120) -> None:
        """Until every started node sees every other started node running."""
        expected = {node.node for node in self.running()}

        def formed() -> bool:
            status = json.loads(self.running()[0].ctl("cluster_status", "--formatter", "json"))
            return set(status.get("running_nodes", [])) == expected

        wait_for(formed, timeout, f"the cluster to run {sorted(expected)}", interval=1)

    def leader_of(self, queue: str, vhost: str = "/") -> PrivateNode:
        """The node that leads a quorum queue now, or holds a classic one."""
        listed = json.loads(
            self.running()[0].ctl(
                "list_queues", "-p", vhost, "name", "leader", "--formatter", "json"
            )
        )
        leader = next(q["leader"] for q in listed if q["name"] == queue)
        if leader:
            return next(node for node in self.nodes if node.node == leader)
        # A classic queue names no leader: it is listed by the node that holds it.
        return next(
            node
            for node in self.running()
            if queue in node.ctl("list_queues", "-p", vhost, "--local", "--quiet", "name").split()
        )

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        stop_epmd(self.membership.epmd_port)
