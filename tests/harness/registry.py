"""A throwaway Docker registry (Debian's docker-registry, Distribution 2.8) for tests."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from devstack.waiting import free_port, wait_for

NO_REGISTRY = "no docker-registry binary: apt-get install docker-registry"


class RegistryUnavailable(RuntimeError):
    """docker-registry is not installed."""


class LocalRegistry:
    """A registry on `host`:port with its storage in a temp dir, removed on close.

    Engines trust ``localhost`` without TLS; an engine that reaches it at another
    address needs ``--insecure-registry``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RegistryUnavailable(NO_REGISTRY)
        self.port = port or free_port()
        self.address = f"{host}:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="registry-test-"))
        config = self.dir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
        )
        with open(self.dir / "registry.out", "wb") as output:
            self.process = subprocess.Popen(
                [binary, "serve", str(config)], stdout=output, stderr=subprocess.STDOUT
            )
        wait_for(self._answers, 30, f"the registry at {self.address}")

    def _answers(self) -> bool:
        try:
            return requests.get(f"http://{self.address}/v2/", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def tags(self, repository: str) -> list[str]:
        response = requests.get(f"http://{self.address}/v2/{repository}/tags/list", timeout=5)
        response.raise_for_status()
        tags: list[str] = response.json()["tags"] or []
        return tags

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
