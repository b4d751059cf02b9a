"""The benchmark: the packaged services under wrk, against naive Nameko and raw AMQP.

    benchmarks/run              # 3 runs of 10 s per configuration (about 17 minutes)
    benchmarks/run --smoke      # a few seconds, to check that it still works

It starts a private RabbitMQ node, then measures:

1. this project: the three service PEXes as separate processes with production
   settings (and, on ``GET /sum`` only, with tracing, with API keys and limits, on a
   three-node cluster, and with log on PostgreSQL, each beside the SQLite default);
   ``GET /sum`` and ``POST /sum`` at 1 and at 32 connections; CPU seconds
   per 1,000 requests for each process and the broker; resident memory afterwards;
   seconds from start to ``/ready``; whether the log holds one entry per answer; and
   the size of each runtime image, where ``./pants package ::`` has built them;
2. the configurations the performance target's table was measured with, each beside the
   project on a virtual host of its own, all taking turns run by run: naive Nameko (the
   same services written the default way, ``bench.naive``) as three processes and as one,
   and a bare Nameko ``@http`` handler that sums by itself; each one's req/s over the
   table's says how this machine compares with the table's;
3. then the raw AMQP round trip (``bench/probe``): its ceiling at 32 in flight, its
   latency at 1 in flight, and the latency of a confirmed persistent publish;
4. and the CPU of one span in calc's PEX (``bench/span_cost.py``).

Results go to ``OUT/results.json`` and ``OUT/results.png``; the previous JSON there is
compared with. Nothing here is a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.http_load import LoadRun, run_load
from bench.otlp_sink import OtlpSink
from bench.processes import Measured, beam_pid, image_megabytes, seconds_until_ok
from bench.report import load_previous, plot, print_table, write_json
from devstack.postgres_server import NO_SERVER, PrivatePostgres, server_installed
from devstack.probes import has_consumer
from devstack.processes import SERVICES, PackagedStack, ServiceProcess, pex_path
from devstack.rabbit_cluster import PrivateCluster
from devstack.rabbit_node import PrivateNode
from devstack.waiting import free_port, wait_for


@dataclass(frozen=True)
class Reference:
    """A configuration from the performance target's table: ``bench.naive`` classes, grouped
    into ``nameko run`` processes, and the ``GET /sum`` req/s at 32 connections the table
    gives for it. Running it here measures this machine against the table's machine."""

    name: str
    processes: dict[str, tuple[str, ...]]
    target_table_rps: float

    @property
    def classes(self) -> set[str]:
        """Every ``bench.naive`` class it runs, whichever process runs it."""
        return {c for group in self.processes.values() for c in group}


# The "guarded" stack's one API key.
GUARD_KEY = "benchmark-key-0123456789abcdef"

NAIVE = Reference(
    "naive", {"calc": ("NaiveCalc",), "log": ("NaiveLog",), "gateway": ("NaiveGateway",)}, 430
)
BARE = Reference("bare", {"nameko": ("BareGateway",)}, 4800)
REFERENCES = (
    NAIVE,
    Reference("naive-1proc", {"nameko": ("NaiveCalc", "NaiveLog", "NaiveGateway")}, 570),
    BARE,
)


@dataclass(frozen=True)
class Target:
    """A ratio of the summary that the performance goals bound: at least `bound`, or at
    most it (`at_most`). Ratios of one run hold on any machine; absolute figures do not."""

    name: str
    bound: float
    at_most: bool = False

    def judged(self, value: float | None) -> dict[str, Any]:
        met = value is not None and (value <= self.bound if self.at_most else value >= self.bound)
        return {"value": value, "target": f"{'<=' if self.at_most else '>='} {self.bound:g}",
                "met": met}  # fmt: skip


# A sum's trace: the request, the call to calc and calc's worker, the event's publish
# and log's worker (tests/observability/test_traces.py holds it to these five).
SPANS_PER_SUM = 5

TARGETS = (
    Target("tracing / project req/s, GET /sum c=32", 0.85),
    Target("cluster / project req/s, GET /sum c=32", 0.8),
    Target("project p50 / raw round trip p50, GET /sum c=1", 3.0, at_most=True),
    Target("project / naive Nameko, GET /sum c=32", 4.5),
    Target("project / bare Nameko handler, GET /sum c=32", 0.6),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    parser.add_argument("--pex-dir", type=Path, default=Path("dist"), help="where the PEXes are")
    parser.add_argument("--out", type=Path, default=Path("dist/benchmark"))
    parser.add_argument(
        "--baseline-pex-dir",
        type=Path,
        help="another build's PEXes (its dist/): measure them as 'baseline', in turns with "
        "the project, instead of the references and the probe",
    )
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.runs = 1.0, 1
    args.out.mkdir(parents=True, exist_ok=True)
    previous = load_previous(args.out / "results.json")

    # A virtual host for each stack and one for the probe: none sees another's queues.
    vhosts = (
        "/",
        "project",
        "baseline",
        "tracing",
        "guarded",
        "postgres",
        *(s.name for s in REFERENCES),
        "probe",
    )
    node = PrivateNode(vhosts=vhosts, name="bench")
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        node.start()
        broker = beam_pid(node.process_group)
        results: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "seconds_per_run": args.seconds,
            "runs": args.runs,
            "configurations": [],
        }
        results["image_mb"] = image_megabytes(SERVICES)
        measure_stacks(args, node, broker, workdir, results)
        results["span_cost"] = measure_span_cost(args, workdir)
        if args.baseline_pex_dir is None:
            measure_probe(args, node.uri(vhost="probe"), workdir, results)
        summarize(results)
    finally:
        node.close()
        shutil.rmtree(workdir, ignore_errors=True)

    write_json(results, args.out / "results.json")
    plot(results, args.out / "results.png")
    print_table(results, previous)
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.png'}")


def measure_stacks(
    args: argparse.Namespace, node: PrivateNode, broker: int, workdir: Path, results: dict[str, Any]
) -> None:
    """This project and the references (or a baseline build), each on its own virtual host,
    measured in turns."""
    stacks: list[Stack] = []
    sink = OtlpSink()
    cluster = PrivateCluster(3)
    database = PrivatePostgres() if server_installed() else None
    one_node = {"rabbitmq": broker}
    try:
        project = start_project(
            args, "project", args.pex_dir, node.uri(vhost="project"), one_node, workdir
        )
        stacks.append(project)
        results["ready_seconds"] = project.ready_seconds
        # The same build with tracing on, every span exported over OTLP/HTTP (GET only).
        exporting = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink.endpoint}
        uri = node.uri(vhost="tracing")
        stacks.append(
            start_project(args, "tracing", args.pex_dir, uri, one_node, workdir, exporting)
        )
        # The same build with API keys and every limit on (GET only): one key, a rate
        # limit far above the load, so each request pays for the checks, not a refusal.
        keys_file = workdir / "api-keys"
        keys_file.write_text(f"benchmark:{GUARD_KEY}\n")
        guarded = {"API_KEYS_FILE": str(keys_file), "RATE_LIMIT": "1000000",
                   "RATE_BURST": "1000000", "MAX_CONNECTIONS": "1000"}  # fmt: skip
        uri = node.uri(vhost="guarded")
        stacks.append(start_project(args, "guarded", args.pex_dir, uri, one_node, workdir,
                                    guarded, {"Authorization": f"Bearer {GUARD_KEY}"}))  # fmt: skip
        # The same build on a three-node cluster with quorum queues (GET only).
        cluster.start()
        nodes = {f"rabbitmq{i}": beam_pid(n.process_group) for i, n in enumerate(cluster.nodes, 1)}
        quorum = {"QUEUE_TYPE": "quorum"}
        stacks.append(
            start_project(args, "cluster", args.pex_dir, cluster.uri(), nodes, workdir, quorum)
        )
        # The same build with log on PostgreSQL, a server of the benchmark's own (GET only;
        # the server's own CPU is not counted).
        if database is None:
            results["postgres"] = {"skipped": NO_SERVER}
        else:
            stacks.append(start_on_postgres(args, database, node.uri(vhost="postgres"), one_node,
                                            workdir))  # fmt: skip
        if args.baseline_pex_dir is not None:
            baseline = args.baseline_pex_dir.resolve()
            uri = node.uri(vhost="baseline")
            stacks.append(start_project(args, "baseline", baseline, uri, one_node, workdir))
        else:
            for spec in REFERENCES:
                uri = node.uri(vhost=spec.name)
                stacks.append(start_reference(args, spec, uri, broker, workdir))
        measure(results, stacks, args)
        project = stacks[0]
        rss = project.measured.rss()
        results["rss_mb"] = {name: round(mb, 1) for name, mb in rss.items() if name != "rabbitmq"}
        results["log_checks"] = {
            stack.name: await_count(stack.count_log, stack.answered)
            for stack in stacks
            if stack.count_log is not None
        }
    finally:
        for stack in stacks:
            stack.stop()
        sink.close()
        cluster.close()
        if database is not None:
            database.close()


@dataclass
class Answered:
    """Answers counted by the load generator. wrk stops with up to one request in flight
    per connection, which the service answers (and logs) but wrk does not count."""

    counted: int = 0
    uncounted_at_most: int = 0

    def add(self, run: LoadRun, connections: int) -> None:
        self.counted += run.requests - run.errors
        self.uncounted_at_most += connections


@dataclass
class Stack:
    """One way of serving ``/sum``: its processes, warmed up, and what they answered."""

    name: str
    base_url: str
    endpoints: tuple[str, ...]
    services: dict[str, ServiceProcess]
    measured: Measured
    answered: Answered
    count_log: Callable[[], int] | None
    ready_seconds: float | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()


def measure(results: dict[str, Any], stacks: list[Stack], args: argparse.Namespace) -> None:
    """Run each endpoint at 1 and 32 connections, `args.runs` times each.

    The stacks take turns run by run, so a change in the machine's speed during the
    benchmark (a shared VM's neighbours) weighs on each of them alike.
    """
    for endpoint in ("GET /sum", "POST /sum"):
        method, path = endpoint.split()
        query = "?numbers=1,2,3" if method == "GET" else ""
        for connections in (1, 32):
            taking_part = [stack for stack in stacks if endpoint in stack.endpoints]
            runs: dict[str, list[LoadRun]] = {stack.name: [] for stack in taking_part}
            cpu: dict[str, Counter[str]] = {stack.name: Counter() for stack in taking_part}
            for _ in range(args.runs):
                for stack in taking_part:
                    before = stack.measured.snapshot()
                    url = stack.base_url + path + query
                    run = run_load(url, method, connections, args.seconds, stack.headers)
                    after = stack.measured.snapshot()
                    cpu[stack.name].update({p: after[p] - before[p] for p in after})
                    stack.answered.add(run, connections)
                    runs[stack.name].append(run)
            for stack in taking_part:
                record(results, stack, endpoint, connections, runs[stack.name], cpu[stack.name])


def record(
    results: dict[str, Any],
    stack: Stack,
    endpoint: str,
    connections: int,
    runs: list[LoadRun],
    cpu: Counter[str],
) -> None:
    total = sum(run.requests for run in runs)
    results["configurations"].append({
        "name": stack.name,
        "endpoint": endpoint,
        "connections": connections,
        "runs": [vars(run) for run in runs],
        "median": {
            key: statistics.median(getattr(run, key) for run in runs)
            for key in ("requests_per_second", "p50_ms", "p99_ms")
        },
        "errors": sum(run.errors for run in runs),
        "cpu_per_1000": {
            process: round(cpu[process] * 1000 / max(total, 1), 3)
            for process in stack.measured.pids
        },
    })  # fmt: skip


def warm_up(stack: Stack, seconds: float) -> None:
    url = stack.base_url + "/sum?numbers=1,2,3"
    stack.answered.add(run_load(url, "GET", 32, seconds, stack.headers), 32)


def start_project(
    args: argparse.Namespace,
    name: str,
    pex_dir: Path,
    uri: str,
    brokers: dict[str, int],
    workdir: Path,
    settings: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    count_log: Callable[[], int] | None = None,
) -> Stack:
    """The service PEXes in `pex_dir` as processes with production settings (and
    `settings`) on the broker at `uri`, whose node processes are `brokers`, loaded with
    `headers` on every request, its log's entries counted by `count_log` (by default in
    its SQLite file); a stack with settings of its own is measured on ``GET /sum`` only."""
    packaged = PackagedStack(pex_dir, uri, workdir / name, settings)
    packaged.workdir.mkdir()
    started = packaged.start_all()
    base_url = packaged.base_url
    measured = Measured()
    endpoints = ("GET /sum",) if settings else ("GET /sum", "POST /sum")
    stack = Stack(name, base_url, endpoints, started, measured, Answered(),
                  count_log or (lambda: count_rows(packaged.store_path)),
                  headers=headers or {})  # fmt: skip
    try:
        # The first start unpacks each PEX into a venv; time a restart, as deployed.
        seconds_until_ok(base_url + "/ready")
        started["gateway"].stop()
        started["gateway"] = packaged.start("gateway")
        stack.ready_seconds = round(seconds_until_ok(base_url + "/ready"), 3)
        warm_up(stack, min(3.0, args.seconds))
    except BaseException:
        stack.stop()
        raise
    measured.pids = {s: p.process.pid for s, p in started.items()} | brokers
    return stack


def start_on_postgres(
    args: argparse.Namespace,
    database: PrivatePostgres,
    uri: str,
    brokers: dict[str, int],
    workdir: Path,
) -> Stack:
    """The project with log's store in a new database of `database` (started here)."""
    database.start()
    url = database.create_database("log")
    store = {"LOG_STORE_URL": url, "LOG_STORE_PASSWORD_FILE": str(database.password_file)}

    def count() -> int:
        return int(database.psql("SELECT count(*) FROM log_entries", database="log"))

    return start_project(args, "postgres", args.pex_dir, uri, brokers, workdir, store,
                         count_log=count)  # fmt: skip


def start_reference(
    args: argparse.Namespace, spec: Reference, uri: str, broker: int, workdir: Path
) -> Stack:
    port = free_port()
    store = workdir / f"{spec.name}-log.jsonl"
    config = workdir / f"{spec.name}.yaml"
    config.write_text(json.dumps({"AMQP_URI": uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}))
    env = {"NAIVE_LOG_PATH": str(store), "PEX_ROOT": str(Path.home() / ".pex")}
    nameko_run = [sys.executable, str(args.pex_dir / "benchmarks" / "naive.pex"), "run"]
    started = {
        process: ServiceProcess(
            f"{spec.name}-{process}",
            [*nameko_run, "--config", str(config), *(f"bench.naive:{c}" for c in classes)],
            env,
            workdir / f"{spec.name}-{process}.out",
        )
        for process, classes in spec.processes.items()
    }
    keeps_log = "NaiveLog" in spec.classes
    base_url = f"http://127.0.0.1:{port}"
    measured = Measured({s: p.process.pid for s, p in started.items()} | {"rabbitmq": broker})
    stack = Stack(spec.name, base_url, ("GET /sum",), started, measured, Answered(counted=1),
                  (lambda: count_lines(store)) if keeps_log else None)  # fmt: skip
    try:
        # Naive Nameko drops events published before log's queue exists: wait for it.
        if keeps_log:
            wait_for(lambda: has_consumer(uri, "evt-gateway-sum_computed--log.record"), 60, "log")
        if "NaiveCalc" in spec.classes:
            wait_for(lambda: has_consumer(uri, "rpc-calc"), 60, "calc")
        seconds_until_ok(base_url + "/sum?numbers=1")  # counted: Nameko's gateway has no /ready
        warm_up(stack, min(3.0, args.seconds))
    except BaseException:
        stack.stop()
        raise
    return stack


def measure_probe(
    args: argparse.Namespace, uri: str, workdir: Path, results: dict[str, Any]
) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        results["probe"] = {"skipped": "Node.js and npm are needed for the AMQP probe"}
        return
    probe_dir = workdir / "probe"
    probe_dir.mkdir()
    source = importlib.resources.files("bench") / "probe"
    for name in ("package.json", "package-lock.json", "probe.js"):
        (probe_dir / name).write_bytes((source / name).read_bytes())
    subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=probe_dir, check=True)
    server = subprocess.Popen(["node", "probe.js", "serve", uri], cwd=probe_dir,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        # 32 in flight: the ceiling for throughput; 1 in flight: the floor for latency,
        # of a round trip and of a confirmed persistent publish (a sum waits for both).
        for key, command, in_flight, what in (
            ("probe", "run", 32, "direct reply-to"),
            ("probe_one_in_flight", "run", 1, "direct reply-to"),
            ("probe_confirm_one_in_flight", "confirm", 1, "persistent, confirmed, consumed"),
        ):
            runs = [
                json.loads(subprocess.run(
                    ["node", "probe.js", command, uri, str(args.seconds), str(in_flight)],
                    cwd=probe_dir, capture_output=True, text=True, check=True,
                ).stdout)
                for _ in range(args.runs)
            ]  # fmt: skip
            results[key] = {
                "client": f"amqplib on Node.js, {what}, {in_flight} in flight",
                "runs": runs,
                "median": {name: statistics.median(r[name] for r in runs) for name in runs[0]},
            }
    finally:
        server.terminate()
        server.wait()


def measure_span_cost(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """The CPU of one span in calc's PEX (``bench/span_cost.py``): the SDK's, and ours."""
    script = workdir / "span_cost.py"
    script.write_bytes((importlib.resources.files("bench") / "span_cost.py").read_bytes())
    spans = 2_000 if args.smoke else 50_000
    done = subprocess.run(
        [str(pex_path(args.pex_dir, "calc")), str(script), str(spans)],
        env={**os.environ, "PEX_INTERPRETER": "1", "PEX_ROOT": str(Path.home() / ".pex")},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.splitlines()[-1]))


def count_rows(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        (rows,) = db.execute("SELECT COUNT(*) FROM entries").fetchone()
    return int(rows)


def count_lines(store: Path) -> int:
    return len(store.read_text().splitlines()) if store.exists() else 0


def await_count(
    count: Callable[[], int], answered: Answered, timeout: float = 120
) -> dict[str, Any]:
    """Wait for the log to catch up with the answers; check it holds one entry per answer.

    Exact up to the requests wrk abandons when it stops: at least every counted answer,
    at most one more per connection and run.
    """
    deadline = time.monotonic() + timeout
    while count() < answered.counted and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # let the uncounted stragglers land, so an excess would show
    stored = count()
    ok = answered.counted <= stored <= answered.counted + answered.uncounted_at_most
    return {"answered": answered.counted, "stored": stored, "ok": ok}


def summarize(results: dict[str, Any]) -> None:
    def configuration(name: str, endpoint: str, connections: int) -> dict[str, Any] | None:
        return next(
            (c for c in results["configurations"]
             if (c["name"], c["endpoint"], c["connections"]) == (name, endpoint, connections)),
            None,
        )  # fmt: skip

    def median_of(name: str, endpoint: str, connections: int, figure: str) -> float | None:
        found = configuration(name, endpoint, connections)
        return float(found["median"][figure]) if found else None

    def cpu_ms_per_request(name: str) -> float | None:
        found = configuration(name, "GET /sum", 32)
        # CPU seconds per 1,000 requests are milliseconds per request.
        return float(sum(found["cpu_per_1000"].values())) if found else None

    project = median_of("project", "GET /sum", 32, "requests_per_second")
    naive = median_of(NAIVE.name, "GET /sum", 32, "requests_per_second")
    ceiling = results.get("probe", {}).get("median", {}).get("requests_per_second")
    one_p50 = median_of("project", "GET /sum", 1, "p50_ms")
    floor = results.get("probe_one_in_flight", {}).get("median", {}).get("p50_ms")
    confirm = results.get("probe_confirm_one_in_flight", {}).get("median", {}).get("p50_ms")
    summary: dict[str, Any] = {}
    for endpoint, connections in (("GET /sum", 32), ("POST /sum", 32), ("GET /sum", 1)):
        mine = median_of("project", endpoint, connections, "requests_per_second")
        for first, second in (
            ("project", "baseline"),
            ("tracing", "project"),
            ("guarded", "project"),
            ("cluster", "project"),
            ("postgres", "project"),
        ):
            a = median_of(first, endpoint, connections, "requests_per_second")
            b = median_of(second, endpoint, connections, "requests_per_second")
            if mine and a and b:
                summary[f"{first} / {second} req/s, {endpoint} c={connections}"] = round(a / b, 3)
    bare = median_of(BARE.name, "GET /sum", 32, "requests_per_second")
    if project and bare:
        summary["project / bare Nameko handler, GET /sum c=32"] = round(project / bare, 3)
    if project and naive:
        summary["project / naive Nameko, GET /sum c=32"] = round(project / naive, 2)
        # What the target means here: its 1,500 req/s were set at 3.5x naive Nameko.
        scale = naive / NAIVE.target_table_rps
        summary["project req/s scaled to the table's machine by naive Nameko"] = round(
            project / scale
        )
    if project and ceiling:
        summary["project / raw AMQP ceiling, GET /sum c=32"] = round(project / ceiling, 3)
    if one_p50 and floor:
        # GET /sum waits on two broker round trips: an RPC and a confirmed publish.
        summary["raw AMQP round trip p50 ms, 1 in flight"] = round(floor, 3)
        summary["project p50 / raw round trip p50, GET /sum c=1"] = round(one_p50 / floor, 2)
    if floor and confirm:
        # What the broker alone takes of that ratio, before any service code runs.
        summary["raw confirmed publish p50 ms, 1 in flight"] = round(confirm, 3)
        summary["raw round trip + confirmed publish p50 / raw round trip p50"] = round(
            (floor + confirm) / floor, 2
        )
    project_cpu, tracing_cpu = cpu_ms_per_request("project"), cpu_ms_per_request("tracing")
    span_cost = results.get("span_cost")
    if project_cpu and tracing_cpu and span_cost:
        # Throughput on a machine whose cores are all busy goes as CPU per request: the
        # SDK's work for a sum's spans alone caps what tracing can keep of it.
        summary["CPU ms per request, GET /sum c=32: project, tracing"] = [
            round(project_cpu, 3),
            round(tracing_cpu, 3),
        ]
        summary["CPU us per span: the SDK's, with OTLP encoding"] = [
            span_cost["sdk_us_per_span"],
            span_cost["encoded_us_per_span"],
        ]
        sdk_ms = SPANS_PER_SUM * span_cost["sdk_us_per_span"] / 1000
        summary[f"tracing / project at most, the SDK's CPU for {SPANS_PER_SUM} spans a sum"] = (
            round(project_cpu / (project_cpu + sdk_ms), 3)
        )
    for spec in REFERENCES:
        measured = median_of(spec.name, "GET /sum", 32, "requests_per_second")
        if measured:
            summary[f"{spec.name} req/s here / in the target's table"] = round(
                measured / spec.target_table_rps, 2
            )
    summary["seconds from start to /ready"] = results.get("ready_seconds")
    summary["resident MB after the run"] = results.get("rss_mb")
    summary["runtime image MB"] = results.get("image_mb")
    summary["each log holds one entry per answer"] = results.get("log_checks")
    summary["targets"] = {
        target.name: target.judged(summary.get(target.name)) for target in TARGETS
    }
    results["summary"] = summary
