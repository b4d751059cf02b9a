"""``./stack dev`` in a copy of the tree: a change to calc's code answers over HTTP, calc
restarted within the bound the command measures itself (from the file's change to calc
answering), the other services left running; a change to a shared layer restarts those
that import it; Ctrl-C stops everything. The edits come once ./stack dev says it is
watching, as a developer's do: each service's next process is loaded by then.

The Python with the lockfile's requirements is this test's own (``STACK_DEV_PYTHON``): a
test cannot run Pants inside Pants. Everything else is the command as a user runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from devstack.rabbit_node import group_alive, server_installed, stop_detached
from devstack.waiting import free_port, wait_for
from harness.cleanup import Cleanup
from harness.default_ports import hold_default_ports, waits_for_the_default_ports
from harness.prerequisites import missing

RESTART_BOUND = 2.0  # seconds from a source file's change to its service answering again
# Generous, for a loaded machine: the bound is the figure ./stack dev prints.
STARTED_WITHIN = 180.0
ANSWERED_WITHIN = 30.0


def copy_tree(cleanup: Cleanup) -> Path:
    """The files ./stack dev runs, in a folder of their own, removed at the end."""
    # The node runs as the rabbitmq user, who cannot enter pytest's private tmp_path.
    tree = Path(tempfile.mkdtemp(prefix="stack-dev-test-"))
    cleanup(lambda: shutil.rmtree(tree, ignore_errors=True))
    tree.chmod(0o755)
    shutil.copytree("src/python", tree / "src/python")
    for name in ("stack", ".env.example"):
        shutil.copy2(name, tree / name)
    return tree


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


def restarts(output: str, file: str) -> dict[str, float]:
    """Each service ./stack dev says it restarted for `file`, and in how many seconds."""
    pattern = rf"^(\w+) +([0-9.]+)s  restarted: {re.escape(file)} changed\b"
    return {name: float(s) for name, s in re.findall(pattern, output, flags=re.MULTILINE)}


def sum_of(url: str) -> object:
    try:
        return requests.get(f"{url}/sum?numbers=1,2,3", timeout=5).json().get("result")
    except (requests.RequestException, ValueError):
        return None


@waits_for_the_default_ports
def test_a_change_restarts_the_services_that_run_it_and_the_new_code_answers(
    cleanup: Cleanup,
) -> None:
    if not server_installed():
        missing("./stack dev needs rabbitmq-server (apt-get install rabbitmq-server)")
    hold_default_ports(cleanup)  # calc and log listen on theirs, as a user's do
    tree = copy_tree(cleanup)
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "STACK_STATE_DIR": str(tree / ".stack"),
        "STACK_ENV_FILE": str(tree / ".env"),
        "STACK_DEV_PYTHON": sys.executable,
        "GATEWAY_PORT": str(port),
    }
    output_path = tree / "dev.out"
    with open(output_path, "w") as output:
        dev = subprocess.Popen(
            ["bash", str(tree / "stack"), "dev"],
            env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    cleanup(lambda: stop_whatever_is_left(dev, tree))
    cleanup(lambda: print(output_path.read_text()))  # shown if the test fails
    url = f"http://127.0.0.1:{port}"

    def printed() -> str:
        return output_path.read_text()

    wait_for(
        lambda: "watching" in printed() or dev.poll() is not None, STARTED_WITHIN, "./stack dev"
    )
    assert dev.poll() is None, printed()
    wait_for(lambda: sum_of(url) == 6, ANSWERED_WITHIN, "a sum")

    summing = "src/python/calc/summing.py"
    edit(
        tree / summing,
        "return _printable(sum(integers))",
        "return _printable(sum(integers) + 1000)",
    )
    changed = time.monotonic()
    wait_for(lambda: sum_of(url) == 1006, ANSWERED_WITHIN, "the new calc to answer")
    answered = time.monotonic() - changed
    took = wait_for(lambda: restarts(printed(), summing), 10, "./stack dev to report calc")
    assert set(took) == {"calc"}, printed()
    assert took["calc"] < RESTART_BOUND, printed()
    print(f"calc restarted in {took['calc']:.2f}s, the new sum seen {answered:.2f}s after the edit")
    logs = tree / ".stack" / "dev" / "logs"
    starts = {
        s: (logs / f"{s}.log").read_text().count(f"starting {s} ") for s in ("log", "gateway")
    }
    assert starts == {"log": 1, "gateway": 1}, "log and the gateway kept running"

    limits = "src/python/domain/limits.py"
    edit(tree / limits, '"""Limits the services agree on."""', '"""The limits."""')
    took = wait_for(lambda: restarts(printed(), limits), ANSWERED_WITHIN, "the shared change")
    wait_for(lambda: set(restarts(printed(), limits)) == {"log", "gateway"}, 10, "log too")
    assert max(restarts(printed(), limits).values()) < RESTART_BOUND, printed()
    wait_for(lambda: sum_of(url) == 1006, ANSWERED_WITHIN, "a sum through the new gateway")
    assert set(restarts(printed(), summing)) == {"calc"}, "calc kept running"

    node = json.loads((tree / ".stack" / "dev" / "node.json").read_text())
    os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C, as a terminal sends it to its job
    assert dev.wait(60) == 0, printed()
    # Each restart ran a process that had loaded its libraries beforehand.
    assert "not warm" not in printed()
    assert "stopped: the services and the node" in printed()
    assert not group_alive(dev.pid), "no service or standby is left"
    assert not group_alive(node["pid"]), "the node stopped"
    assert not (tree / ".stack" / "dev" / "node.json").exists()


def stop_whatever_is_left(dev: subprocess.Popen[bytes], tree: Path) -> None:
    """A failed test's cleanup: Ctrl-C, then SIGKILL, and the node from its state file."""
    if group_alive(dev.pid, dev):
        os.killpg(dev.pid, signal.SIGINT)
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
    left = tree / ".stack" / "dev" / "node.json"
    if left.exists():
        stop_detached(json.loads(left.read_text()))
