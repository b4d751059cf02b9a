"""`benchmarks/run --smoke`: every configuration measured, results written, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.postgres_server import NO_SERVER, server_installed
from harness.prerequisites import missing


def test_the_smoke_run_measures_everything_and_writes_its_results(tmp_path: Path) -> None:
    if shutil.which("rabbitmq-server") is None and not Path("/usr/lib/rabbitmq/bin").exists():
        missing("the benchmark needs rabbitmq-server (apt-get install rabbitmq-server)")
    if not server_installed():
        missing(f"the benchmark's postgres stack needs PostgreSQL: {NO_SERVER}")
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "benchmarks/bench.pex", "--smoke", "--pex-dir", ".", "--out", str(out)],
        capture_output=True, text=True, timeout=500,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    measured = {(c["name"], c["endpoint"], c["connections"]) for c in results["configurations"]}
    assert measured == {
        ("project", "GET /sum", 1), ("project", "GET /sum", 32),
        ("project", "POST /sum", 1), ("project", "POST /sum", 32),
        ("tracing", "GET /sum", 1), ("tracing", "GET /sum", 32),
        ("guarded", "GET /sum", 1), ("guarded", "GET /sum", 32),
        ("cluster", "GET /sum", 1), ("cluster", "GET /sum", 32),
        ("postgres", "GET /sum", 1), ("postgres", "GET /sum", 32),
        ("naive", "GET /sum", 1), ("naive", "GET /sum", 32),
        ("naive-1proc", "GET /sum", 1), ("naive-1proc", "GET /sum", 32),
        ("bare", "GET /sum", 1), ("bare", "GET /sum", 32),
    }  # fmt: skip
    three_processes = {"calc", "log", "gateway", "rabbitmq"}
    on_the_cluster = {"calc", "log", "gateway", "rabbitmq1", "rabbitmq2", "rabbitmq3"}
    for configuration in results["configurations"]:
        assert configuration["median"]["requests_per_second"] > 0
        assert configuration["errors"] == 0, configuration
        one_process = configuration["name"] in ("naive-1proc", "bare")
        expected = {"nameko", "rabbitmq"} if one_process else three_processes
        if configuration["name"] == "cluster":
            expected = on_the_cluster
        assert set(configuration["cpu_per_1000"]) == expected
    assert set(results["log_checks"]) == {
        "project", "tracing", "guarded", "cluster", "postgres", "naive", "naive-1proc"
    }  # fmt: skip
    for name, check in results["log_checks"].items():
        assert check["ok"], (name, check)
    summary = results["summary"]
    assert summary["tracing / project req/s, GET /sum c=32"] > 0
    assert summary["guarded / project req/s, GET /sum c=32"] > 0
    assert summary["cluster / project req/s, GET /sum c=32"] > 0
    assert summary["postgres / project req/s, GET /sum c=32"] > 0
    for name in ("naive", "naive-1proc", "bare"):
        assert summary[f"{name} req/s here / in the target's table"] > 0
    # Every goal judged, met or not (a smoke run's figures say nothing of which).
    assert len(summary["targets"]) == 5
    for name, judged in summary["targets"].items():
        assert summary[name] == judged["value"] and judged["value"] > 0, name
        assert judged["met"] in (True, False) and judged["target"][:2] in ("<=", ">=")
    assert 0 < results["ready_seconds"] < 30
    assert set(results["rss_mb"]) == {"calc", "log", "gateway"}
    assert set(results["image_mb"]) in ({"calc", "log", "gateway"}, {"skipped"})
    assert (out / "results.png").read_bytes().startswith(b"\x89PNG")
    assert "CPU s per 1000 requests" in run.stdout
    assert results["span_cost"]["sdk_us_per_span"] > 0 < results["span_cost"]["encoded_us_per_span"]
    if shutil.which("node") is None:
        missing("the benchmark's AMQP probe needs Node.js and npm (apt-get install nodejs npm)")
    assert results["probe"]["median"]["requests_per_second"] > 0
    assert results["probe_one_in_flight"]["median"]["p50_ms"] > 0
    assert results["probe_confirm_one_in_flight"]["median"]["p50_ms"] > 0
    assert results["summary"]["project p50 / raw round trip p50, GET /sum c=1"] > 0
