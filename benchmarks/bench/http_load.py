"""HTTP load with wrk, or with a bounded Python client where wrk is missing."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

POST_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"numbers": [1, 2, 3]}'
wrk.headers["Content-Type"] = "application/json"
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class LoadRun:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def run_load(
    url: str, method: str, connections: int, seconds: float, headers: dict[str, str] | None = None
) -> LoadRun:
    """`connections` clients sending `method` requests (with `headers`) for `seconds`."""
    if shutil.which("wrk"):
        return _wrk(url, method, connections, seconds, headers or {})
    return _python_load(url, method, connections, seconds, headers or {})


def _wrk(
    url: str, method: str, connections: int, seconds: float, headers: dict[str, str]
) -> LoadRun:
    threads = min(2, connections)
    duration = max(1, round(seconds))  # wrk takes whole seconds
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as scratch:
        if method == "POST":
            script = Path(scratch) / "post.lua"
            script.write_text(POST_SCRIPT)
            command[1:1] = ["-s", str(script)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return LoadRun(
        requests_per_second=float(_find(r"Requests/sec:\s+([\d.]+)", output)[0]),
        p50_ms=_latency(output, "50%"),
        p99_ms=_latency(output, "99%"),
        requests=int(_find(r"(\d+) requests in", output)[0]),
        errors=errors + (int(non_2xx.group(1)) if non_2xx else 0),
    )


def _find(pattern: str, output: str) -> tuple[str, ...]:
    match = re.search(pattern, output)
    if match is None:
        raise ValueError(f"wrk printed no {pattern!r}:\n{output}")
    return match.groups()


def _latency(output: str, percentile: str) -> float:
    value, unit = _find(rf"{percentile}\s+([\d.]+)(us|ms|s)", output)
    return float(value) * UNITS[unit]


def _python_load(
    url: str, method: str, connections: int, seconds: float, headers: dict[str, str]
) -> LoadRun:
    """A plain-threads client: far slower than wrk, but bounded and honest about errors."""
    deadline = time.monotonic() + seconds

    def client() -> tuple[list[float], int]:
        session, latencies, errors = requests.Session(), list[float](), 0
        session.headers.update(headers)
        while time.monotonic() < deadline and len(latencies) + errors < 100_000:
            started = time.perf_counter()
            try:
                if method == "POST":
                    response = session.post(url, json={"numbers": [1, 2, 3]}, timeout=10)
                else:
                    response = session.get(url, timeout=10)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors += 1
        return latencies, errors

    with ThreadPoolExecutor(connections) as pool:
        results = list(pool.map(lambda _: client(), range(connections)))
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return LoadRun(len(latencies) / seconds, cuts[49], cuts[98], len(latencies) + errors, errors)
