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
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import amqp

from harness.waiting import free_port, wait_for

VHOST_POOL_SIZE = 64
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


def connect(uri: str) -> amqp.Connection:
    """A plain py-amqp connection to `uri`, for a test to look at or set up the broker."""
    parts = urlsplit(uri)
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or 5672}",
        userid=parts.username or "guest",
        password=parts.password or "guest",
        virtual_host=(parts.path[1:] or "/").replace("%2F", "/"),
        connect_timeout=2,
    )
    connection.connect()
    return connection


def amqp_ready(uri: str) -> bool:
    """True once the broker accepts an AMQP login at `uri`."""
    try:
        connect(uri).close()
        return True
    except (OSError, amqp.exceptions.AMQPError):
        return False


def has_consumer(uri: str, queue: str) -> bool:
    """True once some service consumes from `queue` (i.e. it has started)."""
    connection = connect(uri)
    try:
        _, _, consumers = connection.channel().queue_declare(queue, passive=True)
        return bool(consumers)
    except amqp.exceptions.NotFound:
        return False
    finally:
        connection.collect()


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


class _VhostPool:
    def __init__(self, port: int) -> None:
        self.port = port
        self._names = iter(f"test-{i}" for i in range(VHOST_POOL_SIZE))

    def vhost_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(next(self._names), safe='')}"


def _definitions() -> dict[str, object]:
    vhosts = [f"test-{i}" for i in range(VHOST_POOL_SIZE)]
    return {
        "users": [
            {
                "name": "guest",
                "password": "guest",
                "tags": "administrator",
            }
        ],
        "vhosts": [{"name": name} for name in ["/", *vhosts]],
        "permissions": [
            {"user": "guest", "vhost": name, "configure": ".*", "write": ".*", "read": ".*"}
            for name in ["/", *vhosts]
        ],
    }


class PrivateNode(_VhostPool):
    """A RabbitMQ node of our own: its own ports, data dir and process group.

    Stopping and starting it again keeps its data, like a real broker restart.
    Erlang's port mapper (epmd), which the node starts as a daemon outside its process
    group, listens on a port of this node's own, so `close` can stop it without
    touching any other node's.
    """

    def __init__(self, port: int | None = None) -> None:
        self.script = _server_script()
        super().__init__(port or free_port())
        self.dir = Path(tempfile.mkdtemp(prefix="rabbit-test-"))
        self.node = f"test{self.port}@localhost"
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._user = _broker_user()
        (self.dir / "definitions.json").write_text(json.dumps(_definitions()))
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            f"load_definitions = {self.dir / 'definitions.json'}\n"
            "loopback_users = none\n"
        )
        if self._user is not None:
            shutil.chown(self.dir, self._user.pw_uid, self._user.pw_gid)
            for path in self.dir.iterdir():
                shutil.chown(path, self._user.pw_uid, self._user.pw_gid)

    def start(self, timeout: float = 60) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.dir / "feature_flags"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
        }
        with open(self.dir / "server.out", "ab") as out:
            self._process = subprocess.Popen(
                [self.script],
                env=env,
                cwd=self.dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self._user.pw_uid if self._user else None,
                group=self._user.pw_gid if self._user else None,
            )
        probe = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        wait_for(lambda: self._exited() or amqp_ready(probe), timeout, "RabbitMQ to accept logins")
        if self._exited():
            log = (self.dir / "server.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"RabbitMQ exited during start:\n{log}")

    @property
    def process_group(self) -> int:
        """The node's process group (it runs in a session of its own)."""
        assert self._process is not None, "the node is not running"
        return self._process.pid

    def _exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def stop(self, timeout: float = 30) -> None:
        """Stop the node (SIGTERM to its process group: a clean broker shutdown)."""
        if self._process is None:
            return
        _stop_group(self._process, timeout)
        self._process = None

    def kill(self) -> None:
        """End the node at once, as a crash would."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
            self._process = None

    def close(self) -> None:
        self.stop()
        if shutil.which("epmd"):
            subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"],
                           capture_output=True, timeout=10)  # fmt: skip
        shutil.rmtree(self.dir, ignore_errors=True)


class ContainerNode(_VhostPool):
    """A RabbitMQ container on a free loopback port, removed on close."""

    def __init__(self, image: str) -> None:
        super().__init__(free_port())
        self.dir = Path(tempfile.mkdtemp(prefix="rabbit-test-"))
        (self.dir / "definitions.json").write_text(json.dumps(_definitions()))
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

    def start(self, timeout: float = 90) -> None:
        probe = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        wait_for(lambda: amqp_ready(probe), timeout, "the RabbitMQ container to accept logins")

    def close(self) -> None:
        subprocess.run(["docker", "rm", "-f", self.container], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _server_script() -> str:
    # Debian's /usr/sbin wrapper redirects a node's output to one shared file and
    # re-executes through su; the script behind it runs the node directly.
    debian_script = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    if debian_script.exists():
        return str(debian_script)
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise BrokerUnavailableForTests(NO_BROKER)
    return found


def _broker_user() -> pwd.struct_passwd | None:
    """RabbitMQ refuses to run as root; as root, run the node as `rabbitmq`."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("rabbitmq")
    except KeyError:
        return None


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
    node: PrivateNode | ContainerNode
    if shutil.which("rabbitmq-server") or Path("/usr/lib/rabbitmq/bin/rabbitmq-server").exists():
        node = PrivateNode()
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
