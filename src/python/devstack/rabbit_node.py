"""A RabbitMQ node of our own: its own ports, data directory and process group.

Tests start one per test process (with a pool of virtual hosts), the benchmark one per
run, and ``./stack`` one for the embedded stack. Stopping and starting a node again keeps
its data, like a real broker restart. Erlang's port mapper (epmd), which the node starts
as a daemon outside its process group, listens on a port of this node's own, so `close`
can stop it without touching any other node's.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from devstack.node_config import ClusterMembership, ServerTls, definitions
from devstack.probes import amqp_ready
from devstack.waiting import free_port, wait_for

DEBIAN_SERVER_SCRIPT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
NO_SERVER = "rabbitmq-server is not installed (apt-get install rabbitmq-server)"


class NoRabbitServer(RuntimeError):
    """RabbitMQ is not installed on this machine."""


def node_name(name: str, port: int) -> str:
    return f"{name}{port}@localhost"


def server_installed() -> bool:
    return DEBIAN_SERVER_SCRIPT.exists() or shutil.which("rabbitmq-server") is not None


class PrivateNode:
    """One RabbitMQ node in `directory` (a fresh temporary one by default).

    `users` maps names to passwords; each may use every one of `vhosts`. The node runs
    in a session of its own, as the ``rabbitmq`` user when started by root (RabbitMQ
    refuses to run as root).
    """

    def __init__(
        self,
        directory: Path | None = None,
        port: int | None = None,
        users: Mapping[str, str] | None = None,
        vhosts: Sequence[str] = ("/",),
        name: str = "node",
        cluster: ClusterMembership | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        if not server_installed():
            raise NoRabbitServer(NO_SERVER)
        self._ports_chosen_here = port is None
        self.port = port or free_port()
        self.dist_port = free_port()
        self.cluster = cluster
        self.tls = tls
        self.epmd_port = cluster.epmd_port if cluster else free_port()
        self._name = name
        self.node = node_name(name, self.port)
        self._temporary = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="rabbit-")) if directory is None else directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.users = dict(users or {"guest": "guest"})
        self.vhosts = tuple(vhosts)
        self.pid: int | None = None  # the node's process group
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def uri(self, user: str | None = None, vhost: str = "/") -> str:
        """The AMQP URI of `vhost` for `user` (the first user by default)."""
        name = user or next(iter(self.users))
        password = quote(self.users[name], safe="")
        path = "" if vhost == "/" else quote(vhost, safe="")
        if self.tls is not None:  # by the name its certificate gives
            return f"amqps://{name}:{password}@{self.tls.host}:{self.port}/{path}"
        return f"amqp://{name}:{password}@127.0.0.1:{self.port}/{path}"

    def _write_config(self) -> None:
        definitions_path = self.dir / "definitions.json"
        definitions_path.write_text(json.dumps(definitions(self.users, self.vhosts)))
        definitions_path.chmod(0o600)
        config = f"load_definitions = {definitions_path}\n" "loopback_users = none\n"
        if self.tls is None:
            config += f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
        else:
            config += self.tls.config(self.dir, self.port)
        if self.cluster is not None:
            config += self.cluster.config()
            cookie = self.dir / ".erlang.cookie"  # in the node's HOME, as Erlang looks for it
            cookie.write_text(self.cluster.cookie)
            cookie.chmod(0o400)
        (self.dir / "rabbitmq.conf").write_text(config)
        user = _broker_user()
        if user is not None:
            for path in (self.dir, *self.dir.rglob("*")):
                shutil.chown(path, user.pw_uid, user.pw_gid)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl`` against this node (it must be running); its output."""
        # The script behind Debian's wrapper, which would switch user and lose this env.
        script = DEBIAN_SERVER_SCRIPT.with_name("rabbitmqctl")
        done = subprocess.run(
            [str(script) if script.exists() else "rabbitmqctl", "-n", self.node, *args],
            env=self.environment(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def environment(self) -> dict[str, str]:
        """The variables that make ``rabbitmq-server`` (and ``rabbitmqctl``) this node."""
        return {
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

    def start(self, timeout: float = 60) -> None:
        """Start the node and wait until it accepts logins.

        A port chosen here is free when chosen, not when the node binds it: a client's
        connection can take it meanwhile (seen beside a test opening thousands). A lone
        node whose port was taken so starts again on others; a cluster's node is named by
        its port in its peers' configs, so it cannot.
        """
        for _ in range(3):
            try:
                self._start(timeout)
                return
            except RuntimeError as exc:
                if not (self._ports_chosen_here and self.cluster is None and
                        "eaddrinuse" in str(exc)):  # fmt: skip
                    raise
            self.port, self.dist_port = free_port(), free_port()
            self.node = node_name(self._name, self.port)
            self._write_config()
        self._start(timeout)

    def _start(self, timeout: float) -> None:
        user = _broker_user()
        with open(self.dir / "server.out", "ab") as out:
            self._process = subprocess.Popen(
                [str(DEBIAN_SERVER_SCRIPT) if DEBIAN_SERVER_SCRIPT.exists() else "rabbitmq-server"],
                env=self.environment(),
                cwd=self.dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user.pw_uid if user else None,
                group=user.pw_gid if user else None,
            )
        self.pid = self._process.pid
        probe = self.uri()  # over TLS, unverified: the test of a certificate is the test's
        wait_for(lambda: self._exited() or amqp_ready(probe), timeout, "RabbitMQ to accept logins")
        if self._exited():
            log = (self.dir / "server.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"RabbitMQ exited during start:\n{log}")

    @property
    def process_group(self) -> int:
        """The node's process group (it runs in a session of its own)."""
        assert self.pid is not None, "the node is not running"
        return self.pid

    def _exited(self) -> bool:
        return self._process is None or self._process.poll() is not None

    def stop(self, timeout: float = 30) -> None:
        """Stop the node (SIGTERM to its process group: a clean broker shutdown)."""
        if self.pid is not None:
            stop_process_group(self.pid, timeout, self._process)
        self.pid, self._process = None, None

    def kill(self) -> None:
        """End the node at once, as a crash would."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            if self._process is not None:
                self._process.wait()
        self.pid, self._process = None, None

    def close(self) -> None:
        """Stop the node and its port mapper (a cluster's is the cluster's to stop); remove
        its directory if it was temporary."""
        self.stop()
        if self.cluster is None:
            stop_epmd(self.epmd_port)
        if self._temporary:
            shutil.rmtree(self.dir, ignore_errors=True)

    def state(self) -> dict[str, Any]:
        """What another process needs to stop this node (see `stop_detached`)."""
        return {"pid": self.pid, "port": self.port, "epmd_port": self.epmd_port}


def stop_detached(state: Mapping[str, Any], timeout: float = 30) -> None:
    """Stop a node that another process started, from its `PrivateNode.state`."""
    if state.get("pid"):
        stop_process_group(int(state["pid"]), timeout)
    stop_epmd(int(state["epmd_port"]))


def stop_process_group(
    pgid: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """SIGTERM every process of a group, then SIGKILL what is left after `timeout` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(pgid, process) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(pgid, process):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        wait_for(lambda: not group_alive(pgid, process), 10, f"process group {pgid} to end")


def group_alive(pgid: int, process: subprocess.Popen[bytes] | None = None) -> bool:
    """True while some process of the group is running (reaping `process` if it is ours).

    A zombie does not count: a detached node's parent has exited, and whether anything
    reaps its orphans depends on the machine's init.
    """
    if process is not None:
        process.poll()
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue  # it ended while we looked
        state, _, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            return True
    return False


def stop_epmd(port: int) -> None:
    if shutil.which("epmd"):
        subprocess.run(["epmd", "-port", str(port), "-kill"], capture_output=True, timeout=10)


def _broker_user() -> pwd.struct_passwd | None:
    """RabbitMQ refuses to run as root; as root, run the node as `rabbitmq`."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("rabbitmq")
    except KeyError:
        return None
