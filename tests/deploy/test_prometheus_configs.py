"""Prometheus' configs for every target pass promtool, and scrape what the alerts expect.

The alert rules (deploy/prometheus/alerts.yml) name the jobs gateway, calc, log and
rabbitmq and RabbitMQ's per-queue metrics; each target's scrape config must produce
exactly those jobs on the ports the services and the broker serve /metrics on.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import default_ports
from harness.kustomize import render
from harness.prerequisites import missing

PROMETHEUS = Path("deploy/prometheus")
ALERTS = PROMETHEUS / "alerts.yml"
COMPOSE_CONFIG = PROMETHEUS / "prometheus.yml"
SWARM_CONFIG = PROMETHEUS / "prometheus.swarm.yml"
# The same for the three-broker cluster (docker-compose.cluster.yml, docker-stack.cluster.yml).
COMPOSE_CLUSTER_CONFIG = PROMETHEUS / "prometheus.cluster.yml"
SWARM_CLUSTER_CONFIG = PROMETHEUS / "prometheus.swarm.cluster.yml"
KUBERNETES_CONFIG = PROMETHEUS / "prometheus.kubernetes.yml"
# The jobs alerts.yml relies on, and the port each serves /metrics on: calc's and log's
# are their defaults, which the compose and Swarm files set too.
METRICS_PORTS = {"gateway": 8000, **default_ports.METRICS_PORTS, "rabbitmq": 15692}
# What Debian's promtool says of a config with Kubernetes discovery: Debian builds
# Prometheus without it.
NO_KUBERNETES_SD = "field kubernetes_sd_configs not found"


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        missing("promtool is missing: apt-get install prometheus")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)  # fmt: skip


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def jobs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_the_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize(
    "config",
    [COMPOSE_CONFIG, SWARM_CONFIG, COMPOSE_CLUSTER_CONFIG, SWARM_CLUSTER_CONFIG],
    ids=["compose", "swarm", "compose-cluster", "swarm-cluster"],
)
def test_the_compose_and_swarm_configs_pass_promtool_with_the_alert_rules(config: Path) -> None:
    # rule_files: [alerts.yml] resolves beside the config, here and where it is mounted
    # (/etc/prometheus/ in compose and Swarm alike).
    assert load(config)["rule_files"] == ["alerts.yml"]
    checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout, checked.stdout
    assert f"{len(load(ALERTS)['groups'][0]['rules'])} rules found" in checked.stdout


@pytest.mark.parametrize(
    ("config", "name_of"),
    [(COMPOSE_CONFIG, lambda job: job), (SWARM_CONFIG, lambda job: f"tasks.{job}")],
    ids=["compose", "swarm"],
)
def test_every_replica_of_each_service_is_found_by_dns(config: Path, name_of: Any) -> None:
    scraped = jobs(load(config))
    assert set(METRICS_PORTS) <= set(scraped)
    for job in ("gateway", "calc", "log"):
        (sd,) = scraped[job]["dns_sd_configs"]
        # On Swarm, log on PostgreSQL is the service log-postgres (docker-stack.postgres.yml).
        names = [name_of(job)] + ([name_of("log-postgres")] if job == "log" and config ==
                                  SWARM_CONFIG else [])  # fmt: skip
        assert (sd["names"], sd["type"], sd["port"]) == (names, "A", METRICS_PORTS[job])
    rabbitmq = scraped["rabbitmq"]
    targets = [t for group in rabbitmq.get("static_configs", []) for t in group["targets"]] + [
        f"{name}:{sd['port']}" for sd in rabbitmq.get("dns_sd_configs", []) for name in sd["names"]
    ]
    assert targets == [f"{name_of('rabbitmq')}:15692"]
    assert load(config)["global"]["scrape_interval"] == "5s"


@pytest.mark.parametrize(
    ("cluster", "single", "targets"),
    [
        (COMPOSE_CLUSTER_CONFIG, COMPOSE_CONFIG, ["rabbitmq1:15692", "rabbitmq2:15692",
                                                  "rabbitmq3:15692"]),
        (SWARM_CLUSTER_CONFIG, SWARM_CONFIG, ["tasks.rabbitmq1:15692", "tasks.rabbitmq2:15692",
                                              "tasks.rabbitmq3:15692"]),
    ],
    ids=["compose", "swarm"],
)  # fmt: skip
def test_the_cluster_configs_scrape_every_broker_and_the_rest_as_with_one(
    cluster: Path, single: Path, targets: list[str]
) -> None:
    clustered, alone = load(cluster), load(single)
    rabbitmq = jobs(clustered).pop("rabbitmq")
    scraped = [t for group in rabbitmq.get("static_configs", []) for t in group["targets"]] + [
        f"{name}:{sd['port']}" for sd in rabbitmq.get("dns_sd_configs", []) for name in sd["names"]
    ]
    assert scraped == targets
    # Everything else as the single broker's config has it.
    rest = {k: v for k, v in clustered.items() if k != "scrape_configs"}
    assert rest == {k: v for k, v in alone.items() if k != "scrape_configs"}
    others = [job for job in clustered["scrape_configs"] if job["job_name"] != "rabbitmq"]
    assert others == [job for job in alone["scrape_configs"] if job["job_name"] != "rabbitmq"]


def test_compose_runs_prometheus_with_this_config_on_loopback_only() -> None:
    compose = load(Path("docker-compose.yml"))["services"]
    prometheus = compose["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    assert prometheus["image"] == "${PROMETHEUS_IMAGE:-prom/prometheus:v2.42.0}"
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in (
        prometheus["volumes"]
    )
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in prometheus["volumes"]
    assert prometheus["ports"] == ["127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"]
    assert prometheus["read_only"] is True and prometheus["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in prometheus["security_opt"]
    for service in ("calc", "log"):
        assert compose[service]["environment"]["METRICS_PORT"] == str(METRICS_PORTS[service])
        assert "ports" not in compose[service]
    rabbitmq = compose["rabbitmq"]
    assert "./docker/enabled_plugins:/etc/rabbitmq/enabled_plugins:ro" in rabbitmq["volumes"]
    assert all(not p.endswith(":15692") for p in rabbitmq["ports"])


def test_the_swarm_stack_runs_prometheus_with_its_config() -> None:
    stack = load(Path("docker-stack.yml"))
    prometheus = stack["services"]["prometheus"]
    files = {c["target"]: stack["configs"][c["source"]]["file"] for c in prometheus["configs"]}
    assert files == {
        "/etc/prometheus/prometheus.yml": "./deploy/prometheus/prometheus.swarm.yml",
        "/etc/prometheus/alerts.yml": "./deploy/prometheus/alerts.yml",
    }
    assert "ports" not in prometheus
    for service in ("calc", "log"):
        env = stack["services"][service]["environment"]
        assert env["METRICS_PORT"] == str(METRICS_PORTS[service])
    rabbitmq = {
        c["target"]: stack["configs"][c["source"]]["file"]
        for c in stack["services"]["rabbitmq"]["configs"]
    }
    assert rabbitmq["/etc/rabbitmq/enabled_plugins"] == "./docker/enabled_plugins"
    no_ipvs = load(Path("docker-stack.no-ipvs.yml"))["services"]
    assert no_ipvs["prometheus"]["deploy"]["endpoint_mode"] == "dnsrr"


def test_rabbitmq_serves_per_queue_metrics_with_the_prometheus_plugin() -> None:
    settings = dict(
        line.split(" = ", 1)
        for line in Path("docker/rabbitmq.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert settings["prometheus.return_per_object_metrics"] == "true"
    assert settings.get("prometheus.tcp.port", "15692") == "15692"
    plugins = re.fullmatch(r"\[([a-z_,\s]*)\]\.\s*", Path("docker/enabled_plugins").read_text())
    assert plugins, "enabled_plugins must be one Erlang list of plugin names"
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= {
        p.strip() for p in plugins.group(1).split(",")
    }


# --- Kubernetes ----------------------------------------------------------------------


def meta_name(name: str) -> str:
    """A Kubernetes label or annotation name as Prometheus' discovery spells it."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def discovered_pods(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Kubernetes discovery (role: pod) finds for one pod of each workload: a target
    per declared container port (the pod's IP alone for a container without ports), with
    the pod's labels, annotations, namespace, name and phase as __meta_kubernetes_* labels.
    Plus a pod of another application asking to be scraped, which must be left alone."""
    workloads = [r for r in resources if r["kind"] in ("Deployment", "StatefulSet")]
    stranger = {
        "kind": "Deployment",
        "metadata": {"name": "stranger", "namespace": "other"},
        "spec": {"template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "gateway"},
                         "annotations": {"prometheus.io/scrape": "true",
                                         "prometheus.io/port": "8000"}},
            "spec": {"containers": [{"name": "web", "ports": [{"containerPort": 8000}]}]},
        }},
    }  # fmt: skip
    groups = []
    for index, workload in enumerate([*workloads, stranger]):
        template = workload["spec"]["template"]
        pod: dict[str, str] = {
            "__meta_kubernetes_namespace": workload["metadata"].get("namespace", "default"),
            "__meta_kubernetes_pod_name": f"{workload['metadata']['name']}-0",
            "__meta_kubernetes_pod_phase": "Running",
        }
        metadata = template["metadata"]
        for kind, values in (("label", metadata.get("labels", {})),
                             ("annotation", metadata.get("annotations", {}))):  # fmt: skip
            for key, value in values.items():
                pod[f"__meta_kubernetes_pod_{kind}_{meta_name(key)}"] = value
                pod[f"__meta_kubernetes_pod_{kind}present_{meta_name(key)}"] = "true"
        ip = f"10.1.0.{index + 1}"
        for container in template["spec"]["containers"]:
            labels = {**pod, "__meta_kubernetes_pod_container_name": container["name"],
                      "__meta_kubernetes_pod_container_init": "false"}  # fmt: skip
            for port in container.get("ports", []):
                groups.append({"targets": [f"{ip}:{port['containerPort']}"], "labels": {
                    **labels,
                    "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                    "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
                }})  # fmt: skip
            if not container.get("ports"):
                groups.append({"targets": [ip], "labels": labels})
    return groups


def with_pods_from_a_file(directory: Path, pods: list[dict[str, Any]]) -> Path:
    """The Kubernetes config with its discovery replaced by a file of the targets
    Kubernetes would discover, everything else as it is; alerts.yml beside it."""
    config = load(KUBERNETES_CONFIG)
    (job,) = config["scrape_configs"]
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["file_sd_configs"] = [{"files": [str(directory / "pods.json")]}]
    (directory / "pods.json").write_text(json.dumps(pods))
    shutil.copy(ALERTS, directory / "alerts.yml")
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    return directory / "prometheus.yml"


def test_the_kubernetes_config_passes_promtool(tmp_path: Path) -> None:
    checked = promtool("check", "config", str(KUBERNETES_CONFIG))
    if NO_KUBERNETES_SD in checked.stdout + checked.stderr:
        # Debian's promtool has no Kubernetes discovery: check all the rest (globals, rule
        # files, every relabeling rule) with the discovery swapped for a file.
        config = with_pods_from_a_file(tmp_path, discovered_pods(render("dev")))
        checked = promtool("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout, checked.stdout


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_kubernetes_config_scrapes_each_pod_once_as_its_job(
    overlay: str, tmp_path: Path
) -> None:
    resources = render(overlay)
    namespace = next(r["metadata"]["name"] for r in resources if r["kind"] == "Namespace")
    config = with_pods_from_a_file(tmp_path, discovered_pods(resources))
    # promtool waits out --timeout whatever the discovery; a file is read at once.
    discovery = promtool("check", "service-discovery", "--timeout=3s", str(config),
                         "kubernetes-pods", cwd=tmp_path)  # fmt: skip
    assert discovery.returncode == 0, discovery.stdout + discovery.stderr
    kept = [t["labels"] for t in json.loads(discovery.stdout) if t.get("labels")]
    # One target per declared port; with the port rewritten they are one, which
    # Prometheus scrapes once.
    scraped = {
        (t["job"], t["__address__"], t["__metrics_path__"], t["namespace"], t["pod"]) for t in kept
    }
    ips = {job: f"10.1.0.{i}" for i, job in enumerate(
        [r["metadata"]["name"] for r in resources if r["kind"] in ("Deployment", "StatefulSet")],
        start=1,
    )}  # fmt: skip
    expected = {
        (job, f"{ips[job]}:{port}", "/metrics", namespace, f"{job}-0")
        for job, port in METRICS_PORTS.items()
    }
    assert scraped == expected, f"unexpected: {scraped - expected}, missing: {expected - scraped}"
