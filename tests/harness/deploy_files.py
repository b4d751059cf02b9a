"""The deployment files as their tools read them, for the offline checks of tests/deploy:
a compose file merged with its overrides (Compose's own ``config``), a Swarm stack merged
and validated (``docker stack config``), and deploy/swarm/create-secrets run against a
stand-in ``docker``. None of them reads a developer's ``.env`` or stack variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from harness.compose import EngineUnavailable, compose_tool
from harness.prerequisites import missing

# Variables of the environment that the files read: each check sets its own.
FILE_VARIABLES = (
    "BROKER_",
    "RABBITMQ_",
    "COMPOSE_",
    "POSTGRES_",
    "SECRET_",
    "QUEUE_TYPE",
    "LOG_STORE_",
)


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(FILE_VARIABLES)}


def compose_config(tmp_path: Path, *files: str, **env: str) -> subprocess.CompletedProcess[str]:
    try:
        tool = compose_tool()
    except EngineUnavailable as exc:
        missing(str(exc))
    # An empty env file: a developer's .env must not decide what is checked here.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    clean = _clean_environment()
    file_args = [arg for path in files for arg in ("-f", path)]
    return subprocess.run(
        [*tool, "--env-file", str(empty), "-p", "clustercheck", *file_args, "config"],
        capture_output=True, text=True, env={**clean, **env}, timeout=120,
    )  # fmt: skip


def merged_compose(tmp_path: Path, *files: str, **env: str) -> dict[str, Any]:
    """The compose files merged, as `compose_config` gives them; Compose must accept them."""
    made = compose_config(tmp_path, *files, **env)
    assert made.returncode == 0, made.stderr
    merged: dict[str, Any] = yaml.safe_load(made.stdout)
    return merged


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """A service's volumes, target to source, from Compose 1.29's short syntax or v2's long."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume.get("source", ""), volume["target"]
        found[target] = source
    return found


def stack_config(*files: str) -> dict[str, Any]:
    if shutil.which("docker") is None:
        missing("the docker client is missing: apt-get install docker.io")
    file_args = [arg for path in files for arg in ("-c", path)]
    env = _clean_environment()
    merged = subprocess.run(["docker", "stack", "config", *file_args], capture_output=True,
                            text=True, env=env, timeout=60)  # fmt: skip
    assert merged.returncode == 0, merged.stderr
    config: dict[str, Any] = yaml.safe_load(merged.stdout)
    return config


FAKE_DOCKER = """#!/bin/sh
# A stand-in for `docker secret inspect|create NAME -`: secrets are files in $SECRETS.
[ "$1" = secret ] || exit 64
case "$2" in
  inspect) [ -e "$SECRETS/$3" ] ;;
  create) [ ! -e "$SECRETS/$3" ] && cat >"$SECRETS/$3" ;;
  *) exit 64 ;;
esac
"""


def create_secrets(tmp_path: Path, *args: str, **env: str) -> tuple[
    subprocess.CompletedProcess[str], dict[str, str]
]:  # fmt: skip
    """deploy/swarm/create-secrets against a stand-in docker; what it made, by name."""
    bin_dir, secrets = tmp_path / "bin", tmp_path / "secrets"
    bin_dir.mkdir(exist_ok=True)
    secrets.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    # A copy of the repository's script, where no .env lies beside it.
    script = tmp_path / "repo" / "deploy" / "swarm" / "create-secrets"
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy("deploy/swarm/create-secrets", script)
    clean = _clean_environment()
    ran = subprocess.run(
        ["bash", str(script), *args], capture_output=True, text=True, timeout=60,
        env={**clean, "PATH": f"{bin_dir}:{clean['PATH']}", "SECRETS": str(secrets), **env},
    )  # fmt: skip
    return ran, {p.name: p.read_text() for p in secrets.iterdir()}
