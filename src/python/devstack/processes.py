"""The services as processes of their own, as in production.

Tests, the benchmark and ``./stack`` start the packaged services through `ServiceProcess`
(one process) and `PackagedStack` (the three PEXes sharing a broker, a port and a log
store): configured only by environment variables, stdout (JSON log lines) kept in a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devstack.waiting import answers_ok, free_port, wait_for

SERVICES = ("calc", "log", "gateway")
# The interpreter under this process, outside any venv (a PEX runs in one): a service
# PEX runs on it and makes a venv of its own.
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / "python{}.{}".format(*sys.version_info))


def pex_path(pex_dir: Path, service: str) -> Path:
    """Where ``./pants package`` puts a service's PEX under `pex_dir` (``dist/``)."""
    return pex_dir / f"src.python.{service}" / f"{service}.pex"


def rss_megabytes(pid: int) -> float:
    """A process's resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metrics_port_env(keep_default: bool) -> dict[str, str]:
    """``METRICS_PORT`` for one more service process on this machine: none where it may
    keep its service's own default, else a free port (its replicas share the machine)."""
    return {} if keep_default else {"METRICS_PORT": str(free_port())}


def open_files(pid: int) -> int:
    """How many file descriptors (sockets among them) a process holds now."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class ServiceProcess:
    """One process running `command`, its output appended to `output_path`.

    `detached` starts it in a session of its own, so that it outlives the process that
    started it (and a terminal's hang-up): ``./stack`` stops it later by pid.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: dict[str, str],
        output_path: Path,
        detached: bool = False,
    ) -> None:
        self.name = name
        self.env = env
        self.output_path = output_path
        with open(output_path, "ab") as output:
            self.process = subprocess.Popen(
                list(command),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=detached,
            )

    @classmethod
    def pex(
        cls,
        service: str,
        pex_dir: Path,
        env: dict[str, str],
        output_path: Path,
        detached: bool = False,
    ) -> ServiceProcess:
        """The service's PEX (from `pex_dir`) on this machine's Python."""
        command = [BASE_PYTHON, str(pex_path(pex_dir, service))]
        return cls(service, command, env, output_path, detached)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, then wait; the exit code. Kills it and raises if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(f"{self.name} did not exit within {timeout}s of SIGTERM") from None

    def kill(self) -> None:
        """SIGKILL: the process ends at once, as in a crash."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """End it whatever it takes: SIGTERM, then SIGKILL if it hangs."""
        try:
            self.terminate()
        except TimeoutError:
            pass

    def ensure_stopped(self) -> None:
        """Kill it if it still runs (a test's cleanup)."""
        if self.process.poll() is None:
            self.kill()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """Every output line, each parsed as the JSON object it must be."""
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]


class PackagedStack:
    """The service PEXes of one stack: one broker URI, one gateway port, one log store.

    `start` adds a process (replicas too); the caller stops them (`stop_all`), or
    registers each for cleanup as it starts. Each process gets a ``METRICS_PORT`` of its
    own, free now, so that stacks run side by side; with `default_metrics_ports`, each
    service's first process keeps its service's default instead, as a user runs them.
    """

    def __init__(
        self,
        pex_dir: Path,
        amqp_uri: str,
        workdir: Path,
        settings: dict[str, str] | None = None,
        default_metrics_ports: bool = False,
    ) -> None:
        self.pex_dir = pex_dir
        self.default_metrics_ports = default_metrics_ports
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.store_path = workdir / "store" / "log.sqlite3"
        self.env = {
            "AMQP_URI": amqp_uri,
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}",
            "LOG_STORE_PATH": str(self.store_path),
            # One unpacked venv per PEX and machine, as deployed: later starts reuse it.
            "PEX_ROOT": str(Path.home() / ".pex"),
            **(settings or {}),
        }
        self.processes: list[ServiceProcess] = []

    def start(self, service: str) -> ServiceProcess:
        """Start one more process of `service`; its output goes to ``<service>-<n>.out``."""
        index = sum(p.name == service for p in self.processes)
        label = f"{service}-{index + 1}"
        env = {**metrics_port_env(self.default_metrics_ports and index == 0), **self.env}
        process = ServiceProcess.pex(service, self.pex_dir, env, self.workdir / f"{label}.out")
        self.processes.append(process)
        return process

    def start_all(self) -> dict[str, ServiceProcess]:
        return {service: self.start(service) for service in SERVICES}

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the gateway's ``/ready`` answers 200: broker reachable, calc answering."""
        wait_for(lambda: answers_ok(self.base_url + "/ready"), timeout, f"{self.base_url}/ready")

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
