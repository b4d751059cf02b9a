"""A compose project of the stack, on its own project name and ports, for tests."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from devstack.waiting import answers_ok, free_port, wait_for
from harness.engine_lock import holding_engine
from harness.prerequisites import missing

NO_ENGINE = (
    "no Docker engine: install one (apt-get install docker.io docker-compose) and start "
    "dockerd, then run ./pants test again"
)


class EngineUnavailable(RuntimeError):
    """No Docker engine or no Compose on this machine."""


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin exists, else Compose v1's `docker-compose`."""
    if os.environ.get("DOCKER_ENGINE") == "0" or shutil.which("docker") is None:
        raise EngineUnavailable(NO_ENGINE)
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        raise EngineUnavailable(NO_ENGINE)
    return compose_tool()


def compose_tool() -> list[str]:
    """The Compose command alone, engine or not (`config` needs none)."""
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise EngineUnavailable("no Docker Compose: apt-get install docker-compose")


class ComposeFailed(RuntimeError):
    """A compose command failed; the message ends with its stderr."""


class ComposeStack:
    """`docker compose -p <unique>` with the settings a test chooses.

    ``COMPOSE_PROFILES="monitoring"`` in the settings adds Prometheus (Compose 1.29 and v2
    alike), its API at `prometheus_url`. `files` are the compose files, in order: later
    ones override earlier ones (e.g. docker-compose.cluster.yml after docker-compose.yml).
    """

    def __init__(self, *, files: Sequence[str] = ("docker-compose.yml",), **settings: str) -> None:
        self.command = compose_command()
        self.files = tuple(files)
        self.project = f"stacktest{secrets.token_hex(4)}"
        self.gateway_port = free_port()
        self.prometheus_port = free_port()
        self.env = {
            **os.environ,
            "BROKER_USER": "app",
            "BROKER_PASSWORD": secrets.token_urlsafe(16),
            "GATEWAY_PORT": str(self.gateway_port),
            "RABBITMQ_MANAGEMENT_PORT": str(free_port()),
            "PROMETHEUS_PORT": str(self.prometheus_port),
            **settings,
        }
        self.base_url = f"http://127.0.0.1:{self.gateway_port}"
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"

    def run(self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        file_args = [arg for path in self.files for arg in ("-f", path)]
        command = [*self.command, "-p", self.project, *file_args, *args]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True,
                              input=input, timeout=timeout)  # fmt: skip
        if check and done.returncode != 0:
            # Compose says why on stderr (an image it cannot pull, a port in use): show it.
            raise ComposeFailed(
                f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
            )
        return done

    def up(self, *args: str) -> None:
        self.run("up", "-d", *args)

    def down(self) -> None:
        self.run("down", "-v", "--remove-orphans", "--timeout", "10", check=False)

    def container_ids(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).stdout.split()

    def inspect(self, container_id: str) -> dict[str, Any]:
        output = subprocess.run(
            ["docker", "inspect", container_id], capture_output=True, text=True, check=True
        ).stdout
        inspected: dict[str, Any] = json.loads(output)[0]
        return inspected

    def healthy(self, service: str, replicas: int = 1) -> bool:
        ids = self.container_ids(service)
        states = [self.inspect(i)["State"].get("Health", {}).get("Status") for i in ids]
        return len(ids) == replicas and all(state == "healthy" for state in states)

    def wait_healthy(self, service: str, replicas: int = 1, timeout: float = 120) -> None:
        wait_for(lambda: self.healthy(service, replicas), timeout, f"{replicas} healthy {service}",
                 interval=1)  # fmt: skip

    def in_container(self, service: str, *command: str) -> str:
        """`command`'s output in the (only) container of `service`; it must succeed."""
        (container,) = self.container_ids(service)
        done = subprocess.run(["docker", "exec", container, *command], capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, f"{command} in {service}: {done.stdout}{done.stderr}"
        return done.stdout

    def logs(self, container_id: str) -> str:
        return subprocess.run(
            ["docker", "logs", container_id], capture_output=True, text=True, check=True
        ).stdout


def compose_stack(*, files: Sequence[str] = ("docker-compose.yml",), **settings: str
                  ) -> ComposeStack:  # fmt: skip
    """A ComposeStack, or the test reported as missing its engine."""
    try:
        return ComposeStack(files=files, **settings)
    except EngineUnavailable as exc:
        missing(str(exc))


@contextmanager
def brought_up(compose: ComposeStack) -> Iterator[ComposeStack]:
    """`compose` up with its gateway ready; torn down with `down -v` whatever happens.

    Never while the swarm test has the engine in a swarm (harness.engine_lock)."""
    with holding_engine(alone=False):
        try:
            compose.up()
            compose.wait_healthy("gateway")
            wait_for(lambda: answers_ok(compose.base_url + "/ready", timeout=5), 60,
                     "the gateway to be ready", interval=0.5)  # fmt: skip
            yield compose
        finally:
            compose.down()
