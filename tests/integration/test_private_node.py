"""`devstack.rabbit_node.PrivateNode`: a node whose chosen port was taken before it bound
it starts on another, as the tests' brokers, the benchmark's and ./stack's rely on."""

from __future__ import annotations

import socket

from devstack.probes import amqp_ready
from devstack.rabbit_node import NoRabbitServer, PrivateNode
from harness.prerequisites import missing


def test_a_node_whose_port_was_taken_meanwhile_starts_on_another() -> None:
    try:
        node = PrivateNode(name="taken")
    except NoRabbitServer as exc:
        missing(str(exc))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", node.port))  # as a client's connection would
        squatter.listen()
        taken = node.port
        try:
            node.start()
            assert node.port != taken
            assert amqp_ready(node.uri())
        finally:
            node.close()
