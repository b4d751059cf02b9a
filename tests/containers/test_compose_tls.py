"""The stack with TLS to RabbitMQ: `docker compose -f docker-compose.yml -f
docker-compose.tls.yml up`, with certificates from docker/make-dev-certs, as the compose
file's header tells a user to do.

The node has no plain AMQP listener, every service's connection to it is TLS, sums are
answered and their events recorded, and no log holds the broker's password.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devstack.waiting import wait_for
from harness.compose import ComposeStack, brought_up, compose_stack
from harness.engine_lock import waits_for_the_engine
from harness.log_entries import logged_request_ids

pytestmark = waits_for_the_engine
TIMEOUT = 10
FILES = ("docker-compose.yml", "docker-compose.tls.yml")
RABBITMQ_IMAGE_DEFAULT = "rabbitmq:3.10-management"


def broker_uid(image: str) -> str:
    """The user the broker image runs as (999 in the official image, another in
    local/rabbitmq): the node's key must be readable by it."""
    done = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", image, "-u"],
                          capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    certs = tmp_path_factory.mktemp("certs")
    compose = compose_stack(files=FILES, TLS_CERTS_DIR=str(certs))
    subprocess.run(["docker/make-dev-certs", str(certs)], check=True, capture_output=True)
    image = compose.env.get("RABBITMQ_IMAGE", RABBITMQ_IMAGE_DEFAULT)
    subprocess.run(["chown", broker_uid(image), str(certs / "server.key")], check=True)
    with brought_up(compose) as up:
        yield up


def peer_address(connection: dict[str, Any]) -> str:
    """A connection's peer as text: rabbitmqctl's JSON gives an IPv6 address (IPv4 ones
    mapped into it) as its eight 16-bit groups."""
    groups = connection["peer_host"]
    address = ipaddress.IPv6Address(b"".join(group.to_bytes(2, "big") for group in groups))
    return str(address.ipv4_mapped or address)


def test_the_node_listens_for_amqp_over_tls_only(stack: ComposeStack) -> None:
    listed = stack.in_container("rabbitmq", "rabbitmq-diagnostics", "-q", "listeners",
                                "--formatter", "json")  # fmt: skip
    listeners = json.loads(listed)["listeners"]
    amqp = {(listener["protocol"], listener["port"]) for listener in listeners
            if listener["protocol"].startswith("amqp")}  # fmt: skip
    assert amqp == {("amqp/ssl", 5671)}


def test_every_service_connects_over_tls_and_a_sum_is_answered_and_recorded(
    stack: ComposeStack,
) -> None:
    request_id = f"tls-{uuid.uuid4().hex[:8]}"
    answer = requests.get(stack.base_url + "/sum?numbers=1,2,3",
                          headers={"X-Request-ID": request_id}, timeout=TIMEOUT)  # fmt: skip
    assert answer.status_code == 200 and answer.json()["result"] == 6

    wait_for(lambda: request_id in logged_request_ids(stack.base_url), 30,
             "the sum's event in /logs", 0.5)  # fmt: skip

    connections = json.loads(stack.in_container(
        "rabbitmq", "rabbitmqctl", "-q", "list_connections", "peer_host", "ssl", "ssl_protocol",
        "user", "--formatter", "json",
    ))  # fmt: skip
    for service in ("calc", "log", "gateway"):
        (container,) = stack.container_ids(service)
        networks = stack.inspect(container)["NetworkSettings"]["Networks"].values()
        addresses = {network["IPAddress"] for network in networks}
        assert any(peer_address(c) in addresses for c in connections), (service, connections)
    assert all(c["ssl"] and c["ssl_protocol"] in ("tlsv1.3", "tlsv1.2") for c in connections)
    assert {c["user"] for c in connections} == {"app"}


def test_no_log_holds_the_broker_password(stack: ComposeStack) -> None:
    password = stack.env["BROKER_PASSWORD"]
    for service in ("rabbitmq", "calc", "log", "gateway"):
        for container in stack.container_ids(service):
            assert password not in stack.logs(container), service
