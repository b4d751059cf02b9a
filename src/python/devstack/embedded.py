"""The embedded stack: the three service PEXes against a private RabbitMQ node, detached.

``./stack up`` runs it where no container engine can run: the same services, settings
and URL as the compose stack, without containers. What it started is written to a state
file, so that a later ``up`` reuses what still runs (and restarts what changed) and
``down`` stops it all, from other processes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.probes import amqp_ready
from devstack.processes import SERVICES, ServiceProcess, metrics_port_env, pex_path
from devstack.rabbit_node import PrivateNode, group_alive, stop_detached, stop_process_group
from devstack.waiting import answers_ok, port_is_free, wait_for

FIRST_BROKER_PORT = 5672
READY_TIMEOUT = 90
# .env keys that configure the stack itself, or that it sets for each process, rather
# than the services.
STACK_KEYS = frozenset(
    {"BROKER_USER", "BROKER_PASSWORD", "GATEWAY_PORT", "AMQP_URI", "AMQP_URI_FILE",
     "WEB_SERVER_ADDRESS", "LOG_STORE_PATH", "METRICS_PORT", "POSTGRES_PASSWORD"}
)  # fmt: skip


def service_env(env: Mapping[str, str]) -> dict[str, str]:
    """The settings of `env` (a ``.env``) meant for the services, not for the stack."""
    return {key: value for key, value in env.items() if key not in STACK_KEYS and key.isupper()}


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a compose ``.env`` file (comments and blanks skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass
class Report:
    """What `EmbeddedStack.up` did, one line per part, for the user."""

    lines: list[str] = field(default_factory=list)
    say: Callable[[str], None] = print

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.say(line)


class EmbeddedStack:
    """The embedded stack whose state lives in `state_dir`."""

    def __init__(self, state_dir: Path, pex_dir: Path, env: Mapping[str, str]) -> None:
        self.state_dir = state_dir
        self.pex_dir = pex_dir
        self.env = dict(env)
        self.state_path = state_dir / "embedded.json"
        self.gateway_port = int(self.env.get("GATEWAY_PORT", "8000"))
        self.url = f"http://127.0.0.1:{self.gateway_port}"

    def _load(self) -> dict[str, Any]:
        if self.state_path.exists():
            state: dict[str, Any] = json.loads(self.state_path.read_text())
            return state
        return {}

    def _save(self, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state, indent=2))

    def running(self) -> bool:
        state = self._load()
        node = state.get("node")
        return bool(node and group_alive(node["pid"]))

    def up(self, replicas: Mapping[str, int], report: Report) -> None:
        """Start what is not running, restart what changed, stop surplus replicas."""
        state = self._load()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        state["node"] = self._node(state.get("node"), report)
        state["url"] = self.url
        self._save(state)
        services: dict[str, list[dict[str, Any]]] = state.setdefault("services", {})
        for name in SERVICES:
            services[name] = self._service(name, services.get(name, []), replicas, report)
            self._save(state)
        wait_for(lambda: answers_ok(self.url + "/ready"), READY_TIMEOUT, f"{self.url}/ready")

    def _node(self, known: dict[str, Any] | None, report: Report) -> dict[str, Any]:
        user = self.env.get("BROKER_USER", "app")
        password = self.env["BROKER_PASSWORD"]
        uri_file = self.state_dir / "amqp-uri"
        if (
            known
            and group_alive(known["pid"])
            and uri_file.exists()
            and amqp_ready(uri_file.read_text().strip())
        ):
            report(f"rabbitmq: reused the node on 127.0.0.1:{known['port']}")
            return known
        if known:
            stop_detached(known)
        port = known["port"] if known and port_is_free(known["port"]) else _free_broker_port()
        node = PrivateNode(
            directory=self.state_dir / "rabbitmq", port=port, users={user: password}, name="stack"
        )
        try:
            node.start()
        except BaseException:
            node.close()  # its port mapper too, which outlives a failed node
            raise
        # The URI holds the password: only this file has it, readable by its owner alone.
        uri_file.touch(mode=0o600)
        uri_file.write_text(node.uri() + "\n")
        report(f"rabbitmq: started a private node on 127.0.0.1:{port} (data in {node.dir})")
        return node.state()

    def _service(
        self,
        name: str,
        known: list[dict[str, Any]],
        replicas: Mapping[str, int],
        report: Report,
    ) -> list[dict[str, Any]]:
        pex = pex_path(self.pex_dir, name)
        digest = _sha256(pex)
        wanted = replicas.get(name, 1)
        alive = [p for p in known if group_alive(p["pid"]) and p["pex_sha256"] == digest]
        for stale in [p for p in known if p not in alive] + alive[wanted:]:
            stop_process_group(stale["pid"], timeout=30)
        kept = alive[:wanted]
        started = [self._start(name, digest, len(kept) + i) for i in range(wanted - len(kept))]
        stopped = len(known) - len(kept)
        if kept and not started and not stopped:
            report(f"{name}: reused {len(kept)} running, PEX unchanged")
        else:
            report(f"{name}: {len(kept)} reused, {len(started)} started, {stopped} stopped")
        return kept + started

    def _start(self, name: str, digest: str, index: int) -> dict[str, Any]:
        env = service_env(self.env)
        env.update(
            # Each service's first process on its own default port, as the README says.
            metrics_port_env(keep_default=index == 0),
            AMQP_URI_FILE=str(self.state_dir / "amqp-uri"),
            WEB_SERVER_ADDRESS=f"0.0.0.0:{self.gateway_port}",
            LOG_STORE_PATH=str(self.state_dir / "log-store.sqlite3"),
            HOME=str(Path.home()),
        )
        label = name if index == 0 else f"{name}-{index + 1}"
        log = self.state_dir / "logs" / f"{label}.log"
        process = ServiceProcess.pex(name, self.pex_dir, env, log, detached=True)
        return {"pid": process.pid, "pex_sha256": digest, "log": str(process.output_path)}

    def down(self, report: Report) -> bool:
        """Stop every service, then the node; False if nothing was running."""
        state = self._load()
        if not state:
            return False
        for name in reversed(SERVICES):
            for process in state.get("services", {}).get(name, []):
                stop_process_group(process["pid"], timeout=30)
            report(f"{name}: stopped")
        if state.get("node"):
            stop_detached(state["node"])
            report("rabbitmq: stopped")
        self.state_path.unlink()
        return True


def _free_broker_port() -> int:
    port = FIRST_BROKER_PORT
    while not port_is_free(port):
        port += 1
    return port


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
