"""A real two-node Docker Swarm on one machine, for tests, removed afterwards.

Node 1 is this machine's engine. Node 2 is a second ``dockerd`` started inside a network
namespace of its own (``nsenter --net``: ``ip netns exec`` fails where the devices
cgroup is not mounted), with its own data root, socket and cgroup parent, joined to the
host by a veth pair: 10.77.0.1 (host) and 10.77.0.2 (node 2). Cutting the pair's link
cuts node 2 off, as a network failure would.

Everything made here is undone by `close`, in reverse order, whatever state it is in.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from devstack.waiting import wait_for
from harness.private_engine import PrivateEngine, can_run_engines, remove_engine_dir, run

NAMESPACE = "nameko-swarm-node2"
HOST_VETH, NODE_VETH = "nmk-host0", "nmk-node0"
HOST_IP, NODE_IP = "10.77.0.1", "10.77.0.2"
DIR_PREFIX = "swarm-node2-"


class SwarmUnavailable(RuntimeError):
    """This machine cannot host the test swarm (not root, no engine, already in a swarm)."""


def in_namespace(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("nsenter", f"--net=/run/netns/{NAMESPACE}", *command, check=check)


def clear_leftovers() -> None:
    """Undoes what an interrupted run left (a killed test never reaches `close`): node 2's
    engines, the namespace, the veth pair and a swarm advertised on HOST_IP, an address
    only this harness uses. Any other swarm is someone else's and stays."""
    for directory in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        remove_engine_dir(directory)
    run("ip", "netns", "delete", NAMESPACE, check=False)
    run("ip", "link", "delete", HOST_VETH, check=False)
    address = run("docker", "info", "--format", "{{.Swarm.NodeAddr}}").stdout.strip()
    if address == HOST_IP:
        run("docker", "swarm", "leave", "--force", check=False)


class TwoNodeSwarm:
    """Builds the swarm step by step; `close` tears down whatever was built."""

    def __init__(self) -> None:
        unable = can_run_engines()
        if unable:
            raise SwarmUnavailable(unable)
        if run("docker", "info", check=False).returncode != 0:
            raise SwarmUnavailable("no Docker engine answers")
        clear_leftovers()
        state = run("docker", "info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
        if state != "inactive":
            raise SwarmUnavailable(f"this engine is already in a swarm ({state}); not touching it")
        trusted = run(
            "docker", "info", "--format", "{{json .RegistryConfig.InsecureRegistryCIDRs}}"
        )
        if "10.77.0.0/24" not in json.loads(trusted.stdout):
            raise SwarmUnavailable(
                "this engine must trust the test registry: start dockerd with "
                "--insecure-registry 10.77.0.0/24 (.ci/run does)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX))
        self._undo: list[Callable[[], object]] = []
        self._node2_engine = PrivateEngine(self.dir, NAMESPACE, "nameko-swarm-node2")
        self.node2_socket = self._node2_engine.socket

    def node2(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._node2_engine.docker(*args, check=check)

    def make_network(self) -> None:
        """The namespace and the veth pair; the host side is HOST_IP."""
        run("ip", "netns", "add", NAMESPACE)
        self._undo.append(lambda: run("ip", "netns", "delete", NAMESPACE, check=False))
        run("ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", NODE_VETH)
        self._undo.append(lambda: run("ip", "link", "delete", HOST_VETH, check=False))
        run("ip", "link", "set", NODE_VETH, "netns", NAMESPACE)
        run("ip", "addr", "add", f"{HOST_IP}/24", "dev", HOST_VETH)
        run("ip", "link", "set", HOST_VETH, "up")
        in_namespace("ip", "addr", "add", f"{NODE_IP}/24", "dev", NODE_VETH)
        in_namespace("ip", "link", "set", NODE_VETH, "up")
        in_namespace("ip", "link", "set", "lo", "up")
        in_namespace("ip", "route", "add", "default", "via", HOST_IP)

    def start(self, registry_address: str) -> None:
        """Node 2's engine (trusting `registry_address`) and the swarm of both nodes."""
        self._start_second_engine(registry_address)
        self._form_swarm()

    def _start_second_engine(self, registry_address: str) -> None:
        self._undo.append(self._node2_engine.close)
        self._node2_engine.start(
            "--bip", "172.31.250.1/24", "--insecure-registry", registry_address
        )

    def _form_swarm(self) -> None:
        run("docker", "swarm", "init", "--advertise-addr", HOST_IP)
        self._undo.append(lambda: run("docker", "swarm", "leave", "--force", check=False))
        token = run("docker", "swarm", "join-token", "-q", "worker").stdout.strip()
        self.node2(
            "swarm", "join", "--token", token, "--advertise-addr", NODE_IP, f"{HOST_IP}:2377"
        )
        self._undo.append(lambda: self.node2("swarm", "leave", "--force", check=False))
        wait_for(lambda: self.ready_nodes() == 2, 60, "both nodes Ready")

    def ready_nodes(self) -> int:
        nodes = run("docker", "node", "ls", "--format", "{{json .}}").stdout.splitlines()
        return sum(1 for n in map(json.loads, nodes) if n["Status"] == "Ready")

    def node_states(self) -> dict[str, str]:
        nodes = run("docker", "node", "ls", "--format", "{{json .}}").stdout.splitlines()
        return {
            n["Hostname"] + ("*" if n["Self"] else ""): n["Status"] for n in map(json.loads, nodes)
        }

    def cut_node2(self) -> None:
        run("ip", "link", "set", HOST_VETH, "down")

    def restore_node2(self) -> None:
        run("ip", "link", "set", HOST_VETH, "up")

    def close(self) -> None:
        errors = []
        for undo in reversed(self._undo):
            try:
                undo()
            except Exception as exc:  # keep undoing the rest
                errors.append(exc)
        self._undo.clear()
        if errors:
            raise errors[0]
