"""A RabbitMQ broker for tests, with one fresh virtual host per test.

Where the broker comes from, in order:

1. ``AMQP_URI``: a broker you run. Tests share its virtual host, so they take a
   machine-wide lock and clear the project's queues first (parallel test files
   then run one at a time against it).
2. A private throwaway node: where ``rabbitmq-server`` is installed, each test
   process starts its own node on free loopback ports in a temp dir, with a pool of
   virtual hosts declared at boot (no management plugin or rabbitmqctl needed).
3. A throwaway container: where a Docker engine answers and ``RABBITMQ_IMAGE``
   (default ``rabbitmq:3.10``) is present locally.

With none of them, tests skip with one line saying how to get a broker; with
``CI=true`` they fail instead, because a skipped test proves nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

from devstack.node_config import definitions
from devstack.probes import amqp_ready, connect
from devstack.rabbit_node import PrivateNode, server_installed
from devstack.waiting import free_port, wait_for

VHOST_POOL = tuple(f"test-{i}" for i in range(64))
PROJECT_QUEUES = ("rpc-calc", "rpc-log", "evt-gateway-sum_computed--log.record_sum")
NO_BROKER = (
    "no RabbitMQ for the tests: set AMQP_URI, or install rabbitmq-server "
    "(apt-get install rabbitmq-server), or run a Docker engine with a RabbitMQ image"
)


class BrokerUnavailableForTests(RuntimeError):
    """No way to get a broker on this machine."""


class Broker(Protocol):
    port: int

    def vhost_uri(self) -> str:
        """An AMQP URI for a virtual host no other test has used."""

    def close(self) -> None:
        """Stop whatever this broker started."""


class ExternalBroker:
    """The broker named by ``AMQP_URI``, shared by taking turns."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.port = urlsplit(uri).port or 5672
        lock_name = hashlib.sha256(uri.encode()).hexdigest()[:16]
        self._lock = open(Path(tempfile.gettempdir()) / f"amqp-test-{lock_name}.lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def vhost_uri(self) -> str:
        self._clear_project_queues()
        return self.uri

    def _clear_project_queues(self) -> None:
        connection = connect(self.uri)
        try:
            channel = connection.channel()
            for queue in PROJECT_QUEUES:
                channel.queue_delete(queue)
        finally:
            connection.close()

    def close(self) -> None:
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


class TestNode(PrivateNode):
    """A private node (see `devstack.rabbit_node`) with a fresh virtual host per test."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, port: int | None = None) -> None:
        super().__init__(
            port=port, users={"guest": "guest"}, vhosts=("/", *VHOST_POOL), name="test"
        )
        self._unused = iter(VHOST_POOL)

    def vhost_uri(self) -> str:
        return self.uri(vhost=next(self._unused))


class ContainerNode:
    """A RabbitMQ container on a free loopback port, removed on close."""

    def __init__(self, image: str) -> None:
        self.port = free_port()
        self._unused = iter(VHOST_POOL)
        self.dir = Path(tempfile.mkdtemp(prefix="rabbit-test-"))
        (self.dir / "definitions.json").write_text(
            json.dumps(definitions({"guest": "guest"}, ("/", *VHOST_POOL)))
        )
        (self.dir / "rabbitmq.conf").write_text(
            "load_definitions = /etc/rabbitmq/definitions.json\nloopback_users = none\n"
        )
        for path in self.dir.iterdir():
            path.chmod(0o644)
        self.container = subprocess.run(
            [
                "docker", "run", "-d", "--rm",
                "-p", f"127.0.0.1:{self.port}:5672",
                "-v", f"{self.dir / 'definitions.json'}:/etc/rabbitmq/definitions.json:ro",
                "-v", f"{self.dir / 'rabbitmq.conf'}:/etc/rabbitmq/rabbitmq.conf:ro",
                image,
            ],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def vhost_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(next(self._unused), safe='')}"

    def start(self, timeout: float = 90) -> None:
        probe = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        wait_for(lambda: amqp_ready(probe), timeout, "the RabbitMQ container to accept logins")

    def close(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _docker_image_present(image: str) -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return probe.returncode == 0


@contextlib.contextmanager
def provide_broker() -> Iterator[Broker]:
    """The broker for this test process (see the module docstring for the order)."""
    uri = os.environ.get("AMQP_URI")
    if uri:
        external = ExternalBroker(uri)
        try:
            yield external
        finally:
            external.close()
        return
    node: TestNode | ContainerNode
    if server_installed():
        node = TestNode()
    elif _docker_image_present(image := os.environ.get("RABBITMQ_IMAGE", "rabbitmq:3.10")):
        node = ContainerNode(image)
    else:
        raise BrokerUnavailableForTests(NO_BROKER)
    try:
        node.start()
        yield node
    finally:
        node.close()


def uri_with_port(uri: str, port: int) -> str:
    """`uri` pointing at another port on the same host (e.g. one nothing listens on)."""
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))
