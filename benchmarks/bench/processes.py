"""What the processes a benchmark measures cost: CPU seconds, memory, image sizes."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.images import image_bytes
from devstack.processes import rss_megabytes
from devstack.waiting import answers_ok, wait_for

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def beam_pid(process_group: int) -> int:
    """The Erlang VM of a RabbitMQ node started in its own process group."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            if name.startswith("beam") and int(fields[2]) == process_group:
                return int(entry.name)
    raise LookupError("no beam process in the broker's process group")


@dataclass
class Measured:
    """Named processes whose CPU time is read before and after each load run."""

    pids: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def rss(self) -> dict[str, float]:
        return {name: rss_megabytes(pid) for name, pid in self.pids.items()}


def seconds_until_ok(url: str, timeout: float = 60) -> float:
    """Seconds (from now) until `url` answers 200, polled every 10 ms."""
    started = time.monotonic()
    wait_for(lambda: answers_ok(url, timeout=1), timeout, f"{url} to answer 200", interval=0.01)
    return time.monotonic() - started


def image_megabytes(services: tuple[str, ...]) -> dict[str, Any]:
    """Each service's runtime image as `docker images` counts it, if built here.

    The benchmark builds PEXes only; ``./pants package ::`` builds the images.
    """
    if shutil.which("docker") is None:
        return {"skipped": "no docker command"}
    sizes: dict[str, Any] = {}
    for service in services:
        size = image_bytes(service)
        if size is None:
            return {"skipped": "images not built here (./pants package ::)"}
        sizes[service] = round(size / 1e6, 1)
    return sizes
