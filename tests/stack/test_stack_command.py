"""``./stack up`` where no container engine can run: the embedded stack, from a new .env.

The PEXes come prebuilt (``STACK_PEX_DIR``): a test cannot run Pants inside Pants.
Everything else is the command as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from devstack.rabbit_node import group_alive, server_installed
from devstack.waiting import answers_ok, free_port
from harness.cleanup import Cleanup
from harness.default_ports import METRICS_PORTS, hold_default_ports, waits_for_the_default_ports
from harness.prerequisites import missing

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def stack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "stack", *args], env=env, capture_output=True, text=True, timeout=300
    )


@waits_for_the_default_ports
def test_without_an_engine_the_embedded_stack_serves_sums_and_stops_cleanly(
    tmp_path: Path, cleanup: Cleanup
) -> None:
    if not server_installed():
        missing("the embedded stack needs rabbitmq-server (apt-get install rabbitmq-server)")
    hold_default_ports(cleanup)  # calc and log listen on theirs, as a user's stack does
    # The node runs as the rabbitmq user, who cannot enter pytest's private tmp_path.
    state_dir = Path(tempfile.mkdtemp(prefix="stack-test-"))
    state_dir.chmod(0o755)
    cleanup(lambda: shutil.rmtree(state_dir, ignore_errors=True))
    env_file = tmp_path / ".env"
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
        "STACK_STATE_DIR": str(state_dir),
        "STACK_ENV_FILE": str(env_file),
        "STACK_PEX_DIR": str(Path.cwd()),
        "GATEWAY_PORT": str(port),
    }
    cleanup(lambda: stack("down", env=env))

    first = stack("up", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "falling back to the embedded stack" in first.stdout
    url = re.search(r"URL: +(\S+)", first.stdout)
    assert url and url.group(1) == f"http://127.0.0.1:{port}", first.stdout
    got = requests.get(url.group(1) + "/sum?numbers=1,2,3", timeout=10)
    assert (got.status_code, got.json()["result"]) == (200, 6)
    for service, port in METRICS_PORTS.items():
        logged = (state_dir / "logs" / f"{service}.log").read_text()
        assert f"metrics on port {port} (/metrics)" in logged, logged
        assert answers_ok(f"http://127.0.0.1:{port}/metrics")

    written = env_file.read_text()
    (password,) = re.findall(r"^BROKER_PASSWORD=(.*)$", written, flags=re.MULTILINE)
    assert len(password) >= 24 and URL_SAFE.fullmatch(password), "24+ URL-safe characters"
    assert password not in first.stdout + first.stderr
    assert env_file.stat().st_mode & 0o077 == 0, "only its owner may read .env"

    started = time.monotonic()
    second = stack("up", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert time.monotonic() - started < 30, second.stdout
    assert "kept" in second.stdout and "reused the node" in second.stdout
    assert second.stdout.count("reused 1 running") == 3, second.stdout
    assert env_file.read_text() == written, ".env is never overwritten"
    assert password not in second.stdout + second.stderr

    state = json.loads((state_dir / "embedded.json").read_text())
    groups = [state["node"]["pid"]] + [p["pid"] for ps in state["services"].values() for p in ps]
    down = stack("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [group for group in groups if group_alive(group)], "every process stopped"
    assert not (state_dir / "embedded.json").exists()
    assert requests_fail(url.group(1) + "/health")


def requests_fail(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False
