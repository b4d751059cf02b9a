"""Every service over TLS to a TLS-only RabbitMQ node; and what a client refuses: a
certificate from another CA, an expired one, one for another host. A refused service
says why in one log line and keeps retrying; no log line holds a password or a key."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.node_config import ServerTls
from devstack.processes import PackagedStack, ServiceProcess
from devstack.rabbit_node import NoRabbitServer, PrivateNode
from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.log_entries import log_entries
from harness.packaged import StackFactory
from harness.prerequisites import missing

PASSWORD = "s3cret-broker-password"


def make_certs(directory: Path, *names: str, days: int = 365) -> Path:
    subprocess.run(
        ["docker/make-dev-certs", str(directory), *names],
        check=True, capture_output=True, env={"PATH": "/usr/bin:/bin", "DAYS": str(days)},
    )  # fmt: skip
    return directory


def tls_node(certs: Path, host: str = "localhost") -> Iterator[PrivateNode]:
    try:
        tls = ServerTls(certs / "ca.pem", certs / "server.pem", certs / "server.key", host)
        node = PrivateNode(users={"app": PASSWORD}, tls=tls)
    except NoRabbitServer as exc:
        missing(str(exc))
    try:
        node.start()
        yield node
    finally:
        node.close()


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    return make_certs(tmp_path / "certs", "localhost")


@pytest.fixture
def node(certs: Path) -> Iterator[PrivateNode]:
    yield from tls_node(certs)


def assert_no_secret_logged(processes: list[ServiceProcess], certs: Path) -> None:
    key = (certs / "client.key").read_text().splitlines()[1]  # a line of the private key
    for process in processes:
        output = process.output()
        assert PASSWORD not in output and key not in output, f"{process.name} logged a secret"
        process.log_records()  # every line is one JSON object


def test_every_service_talks_to_the_broker_over_tls(
    node: PrivateNode, certs: Path, stack_factory: StackFactory
) -> None:
    stack = stack_factory(node.uri(), AMQP_CA_FILE=str(certs / "ca.pem"))
    stack.start_all()
    stack.wait_ready()
    got = requests.get(stack.base_url + "/sum?numbers=1,2,3", timeout=10)
    assert got.json()["result"] == 6
    wait_for(lambda: log_entries(stack.base_url), 20, "the sum in the log: log consumed over TLS")
    assert_no_secret_logged(stack.processes, certs)


def test_a_client_certificate_logs_in_with_external(
    node: PrivateNode, certs: Path, stack_factory: StackFactory
) -> None:
    """No password in the URI: the certificate's CN (``app``) is the user."""
    stack = stack_factory(
        f"amqps://localhost:{node.port}/",
        AMQP_CA_FILE=str(certs / "ca.pem"),
        AMQP_CERT_FILE=str(certs / "client.pem"),
        AMQP_KEY_FILE=str(certs / "client.key"),
    )
    stack.start_all()
    stack.wait_ready()
    assert requests.get(stack.base_url + "/sum?numbers=4,5", timeout=10).json()["result"] == 9
    assert_no_secret_logged(stack.processes, certs)


def refused(stack: PackagedStack, certs: Path, reason: str) -> None:
    """calc cannot connect: it says why, once per attempt, and keeps trying."""
    calc = stack.start("calc")

    def attempts() -> list[str]:
        return [r["message"] for r in calc.log_records() if "broker unreachable" in r["message"]]

    wait_for(lambda: len(attempts()) >= 2, 30, "two refused attempts")
    assert calc.running(), calc.output()
    assert all(reason in line for line in attempts()), attempts()
    assert all("\n" not in line for line in attempts())
    assert_no_secret_logged([calc], certs)


def test_a_certificate_from_another_ca_is_refused(
    node: PrivateNode, tmp_path: Path, stack_factory: StackFactory
) -> None:
    other = make_certs(tmp_path / "other-ca", "localhost")
    stack = stack_factory(node.uri(), AMQP_CA_FILE=str(other / "ca.pem"))
    refused(stack, other, "certificate verify failed")


def test_a_certificate_for_another_host_is_refused(
    node: PrivateNode, certs: Path, stack_factory: StackFactory
) -> None:
    """The node's certificate names localhost; reached as 127.0.0.1, it is not its name."""
    uri = node.uri().replace("@localhost:", "@127.0.0.1:")
    stack = stack_factory(uri, AMQP_CA_FILE=str(certs / "ca.pem"))
    refused(stack, certs, "IP address mismatch")


def test_an_expired_certificate_is_refused(
    tmp_path: Path, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    expired = make_certs(tmp_path / "expired", "localhost", days=0)
    nodes = tls_node(expired)
    node = next(nodes)
    cleanup(lambda: next(nodes, None))
    stack = stack_factory(node.uri(), AMQP_CA_FILE=str(expired / "ca.pem"))
    refused(stack, expired, "certificate has expired")
