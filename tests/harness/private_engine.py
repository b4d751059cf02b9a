"""A Docker engine of a test's own, beside this machine's, removed afterwards.

It has its own data root, socket and cgroup parent, and runs inside a network namespace
(``nsenter --net``: ``ip netns exec`` fails where the devices cgroup is not mounted), so
its bridge and firewall rules never touch the host engine's: an engine started in the
host's namespace takes over ``docker0`` and the host engine's containers lose their
network. Its socket is a file, so clients reach it from any namespace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from devstack.waiting import wait_for


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


def remove_engine_dir(directory: Path) -> None:
    """Stops whatever runs from an engine's directory (a killed engine's containers can
    outlive it), unmounts what it left mounted there and deletes it."""
    run("pkill", "-KILL", "-f", str(directory), check=False)
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    inside = [p for p in points if p == str(directory) or p.startswith(f"{directory}/")]
    for mountpoint in sorted(inside, reverse=True):
        run("umount", "--lazy", mountpoint, check=False)
    shutil.rmtree(directory, ignore_errors=True)


def can_run_engines() -> str | None:
    """Why this machine cannot run a private engine, or None if it can."""
    if os.geteuid() != 0:
        return "a private Docker engine needs root"
    for tool in ("dockerd", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"a private Docker engine needs {tool}"
    return None


class PrivateEngine:
    """``dockerd`` in `namespace` (which must exist), everything it keeps in `directory`."""

    def __init__(self, directory: Path, namespace: str, cgroup_parent: str) -> None:
        self.dir = directory
        self.namespace = namespace
        self.socket = f"unix://{directory / 'docker.sock'}"
        self._cgroup_parent = cgroup_parent
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *dockerd_args: str) -> None:
        with open(self.dir / "dockerd.log", "wb") as log:
            self._process = subprocess.Popen(
                [
                    "nsenter", f"--net=/run/netns/{self.namespace}", "dockerd",
                    "--data-root", str(self.dir / "data"),
                    "--exec-root", str(self.dir / "exec"),
                    "--pidfile", str(self.dir / "docker.pid"),
                    "-H", self.socket,
                    "--cgroup-parent", self._cgroup_parent,
                    *dockerd_args,
                ],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_for(lambda: self.docker("info", check=False).returncode == 0, 60, "a private engine")

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("docker", "-H", self.socket, *args, check=check)

    def close(self) -> None:
        """Stops the engine and deletes everything it kept."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
            self._process = None
        remove_engine_dir(self.dir)
