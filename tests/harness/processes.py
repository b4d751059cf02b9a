"""Packaged services (PEX binaries) run as separate processes, as in production."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.waiting import answers_ok, wait_for

# Where Pants puts each service's PEX, relative to the test sandbox.
PEX_PATHS = {name: Path(f"src.python.{name}/{name}.pex") for name in ("calc", "log", "gateway")}


class ServiceProcess:
    """One service's PEX as a child process, its stdout kept in a file."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path, label: str = "") -> None:
        self.name = name
        self.output_path = workdir / f"{label or name}.out"
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # A private PEX_ROOT: the venv the PEX unpacks is this test's alone.
            "PEX_ROOT": str(workdir / "pex_root"),
            **env,
        }
        with open(self.output_path, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(PEX_PATHS[name])],
                env=full_env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM, then wait; returns the exit code (killing it if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout}s of SIGTERM")

    def kill(self) -> None:
        """SIGKILL: the process ends at once, as in a crash."""
        self.process.kill()
        self.process.wait()

    def ensure_stopped(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """Every stdout line, each parsed as the JSON object it must be."""
        return [json.loads(line) for line in self.output().splitlines() if line.strip()]


def wait_until_ready(base_url: str, timeout: float) -> None:
    wait_for(lambda: answers_ok(base_url + "/ready"), timeout, f"{base_url}/ready")
