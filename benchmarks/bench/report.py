"""Benchmark results: a JSON file to compare runs, a PNG plot, and a printed table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render straight to a file
import matplotlib.pyplot as plt  # noqa: E402


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2) + "\n")


def load_previous(path: Path) -> dict[str, Any] | None:
    try:
        previous: dict[str, Any] = json.loads(path.read_text())
        return previous
    except (OSError, ValueError):
        return None


def label(configuration: dict[str, Any]) -> str:
    return f"{configuration['name']} {configuration['endpoint']} c={configuration['connections']}"


def plot(results: dict[str, Any], path: Path) -> None:
    """Req/s and p99 side by side, one bar per configuration (medians of the runs)."""
    configurations = results["configurations"]
    labels = [label(c) for c in configurations]
    figure, (throughput, tail) = plt.subplots(1, 2, figsize=(11, 0.5 * len(labels) + 1.8))
    throughput.barh(labels, [c["median"]["requests_per_second"] for c in configurations])
    throughput.set_xlabel("requests per second (median of runs)")
    tail.barh(labels, [c["median"]["p99_ms"] for c in configurations], color="tab:orange")
    tail.set_xlabel("p99 latency, ms")
    tail.set_yticklabels([])
    ceiling = results.get("probe", {}).get("median", {}).get("requests_per_second")
    if ceiling:
        throughput.axvline(ceiling, color="grey", linestyle="--", label="raw AMQP ceiling")
        throughput.legend(loc="lower right")
    throughput.invert_yaxis()
    tail.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def print_table(results: dict[str, Any], previous: dict[str, Any] | None) -> None:
    before = {label(c): c["median"] for c in (previous or {}).get("configurations", [])}
    print(f"\n{'configuration':34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  vs last")
    for configuration in results["configurations"]:
        median, name = configuration["median"], label(configuration)
        change = ""
        if name in before and before[name]["requests_per_second"]:
            ratio = median["requests_per_second"] / before[name]["requests_per_second"]
            change = f"{ratio - 1:+.0%}"
        print(
            f"{name:34} {median['requests_per_second']:8.0f} {median['p50_ms']:8.2f} "
            f"{median['p99_ms']:8.1f} {configuration['errors']:7d}  {change}"
        )
        cpu = configuration.get("cpu_per_1000")
        if cpu:
            costs = ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
            print(f"    CPU s per 1000 requests: {costs}")
    summary = dict(results.get("summary", {}))
    targets = summary.pop("targets", {})
    for key, value in summary.items():
        print(f"{key}: {value}")
    if targets:
        print("\nperformance targets (ratios of this run):")
    for name, judged in targets.items():
        verdict = "met" if judged["met"] else "not met"
        print(f"  {name}: {judged['value']} (target {judged['target']}): {verdict}")
