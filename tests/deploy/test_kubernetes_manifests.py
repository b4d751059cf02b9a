"""The Kubernetes manifests render with kustomize and validate strictly, offline.

No cluster runs here: these checks are what can be proven without one. Every resource of
each overlay is validated against the Kubernetes 1.37 schemas with unknown fields
refused, and the properties the deployment relies on are checked by name: among them
RabbitMQ as a three-node cluster (a StatefulSet behind a headless Service, peer discovery
through the API with the RBAC it needs, a shared Erlang cookie from the Secret, one node
down at a time), services given every node and quorum queues, and log as replicas on
one PostgreSQL (a StatefulSet) whose password only a Secret holds.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness import default_ports
from harness.kustomize import KUBERNETES, render
from harness.rabbitmq_conf import conf_settings

OVERLAYS = ("dev", "prod")


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
    assert set(workloads) == {"calc", "gateway", "log", "rabbitmq", "postgres"}
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["limits"] and container["resources"]["requests"], name
        for container in pod["containers"]:
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
    assert set(by_kind(resources, "PodDisruptionBudget")) == {"calc", "gateway", "rabbitmq"}


def services(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """calc, gateway and log: the workloads that connect to the broker."""
    workloads = by_kind(resources, "Deployment") | by_kind(resources, "StatefulSet")
    return {name: workloads[name] for name in ("calc", "gateway", "log")}


def container_env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return {env["name"]: env for env in container["env"]}


def secret_key(env: dict[str, Any]) -> tuple[str, str]:
    ref = env["valueFrom"]["secretKeyRef"]
    return ref["name"], ref["key"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_state_lives_on_claims_and_credentials_in_a_secret(overlay: str) -> None:
    resources = render(overlay)
    for name in ("rabbitmq", "postgres"):
        statefulset = by_kind(resources, "StatefulSet")[name]
        assert statefulset["spec"]["volumeClaimTemplates"], name
    secret_names = set()
    for workload in [*services(resources).values(), by_kind(resources, "StatefulSet")["rabbitmq"]]:
        env = container_env(workload)
        for variable, key in (("BROKER_USER", "username"), ("BROKER_PASSWORD", "password")):
            secret_name, secret_key_name = secret_key(env[variable])
            assert secret_key_name == key
            secret_names.add(secret_name)
    (secret_name,) = secret_names
    assert secret_name.startswith("broker-credentials")
    manifests = yaml.safe_dump_all(resources)
    assert "amqp://guest" not in manifests and "guest:guest" not in manifests
    # No overlay ships a Secret, so none ships a password or a cookie: each is made in the
    # cluster (the overlays' headers say how).
    assert by_kind(resources, "Secret") == {}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_is_three_nodes_behind_a_headless_service(overlay: str) -> None:
    resources = render(overlay)
    rabbitmq = by_kind(resources, "StatefulSet")["rabbitmq"]["spec"]
    assert rabbitmq["replicas"] == 3
    # Parallel: a node restarted after the whole cluster stopped waits for its peers
    # before it is ready, which OrderedReady would never start.
    assert rabbitmq["podManagementPolicy"] == "Parallel"
    headless = by_kind(resources, "Service")[rabbitmq["serviceName"]]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert headless["selector"] == rabbitmq["selector"]["matchLabels"]
    ports = {p["port"] for p in headless["ports"]}
    amqp = 5671 if overlay == "prod" else 5672  # over TLS in prod
    assert {4369, amqp, 25672} <= ports
    budget = by_kind(resources, "PodDisruptionBudget")["rabbitmq"]["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"] == rabbitmq["selector"]


def rabbitmq_config(resources: list[dict[str, Any]]) -> dict[str, str]:
    (config_map,) = [r for r in by_kind(resources, "ConfigMap").values()
                     if r["metadata"]["name"].startswith("rabbitmq-config")]  # fmt: skip
    return dict(config_map["data"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rabbitmq_finds_its_peers_through_the_api_with_the_rbac_it_needs(overlay: str) -> None:
    resources = render(overlay)
    rabbitmq = by_kind(resources, "StatefulSet")["rabbitmq"]["spec"]
    config = rabbitmq_config(resources)
    settings = conf_settings(config["rabbitmq.conf"])
    assert settings["cluster_formation.peer_discovery_backend"] == "k8s"
    assert settings["cluster_formation.k8s.address_type"] == "hostname"
    assert settings["cluster_formation.k8s.service_name"] == rabbitmq["serviceName"]
    assert "rabbitmq_peer_discovery_k8s" in config["enabled_plugins"]
    # Each node calls itself what discovery finds: <pod>.<headless service>.<namespace>...
    env = container_env(by_kind(resources, "StatefulSet")["rabbitmq"])
    assert env["RABBITMQ_USE_LONGNAME"]["value"] == "true"
    suffix = env["K8S_HOSTNAME_SUFFIX"]["value"]
    assert suffix.startswith(f".{rabbitmq['serviceName']}.$(MY_POD_NAMESPACE).")
    assert env["RABBITMQ_NODENAME"]["value"] == f"rabbit@$(MY_POD_NAME){suffix}"
    assert env["MY_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["MY_POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"

    # The pods' ServiceAccount may get endpoints, through a RoleBinding in their namespace.
    account = rabbitmq["template"]["spec"]["serviceAccountName"]
    assert account in by_kind(resources, "ServiceAccount")
    (binding,) = [b for b in by_kind(resources, "RoleBinding").values()
                  if {"kind": "ServiceAccount", "name": account} in
                  [{k: s[k] for k in ("kind", "name")} for s in b["subjects"]]]  # fmt: skip
    assert binding["roleRef"]["kind"] == "Role"
    role = by_kind(resources, "Role")[binding["roleRef"]["name"]]
    assert any(
        rule["apiGroups"] == [""] and "endpoints" in rule["resources"] and "get" in rule["verbs"]
        for rule in role["rules"]
    ), role["rules"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_erlang_cookie_comes_from_the_secret_readable_by_its_owner_only(overlay: str) -> None:
    resources = render(overlay)
    pod = by_kind(resources, "StatefulSet")["rabbitmq"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (init,) = pod["initContainers"]
    mounts = {m["mountPath"]: m["name"] for m in init["volumeMounts"]}
    cookie_volume = volumes[mounts["/etc/rabbitmq-cookie"]]["secret"]
    assert cookie_volume["secretName"].startswith("broker-credentials")
    assert cookie_volume["items"] == [{"key": "erlang-cookie", "path": "erlang-cookie"}]
    # Copied onto the node's own volume, where $HOME/.erlang.cookie is, with mode 400.
    (container,) = pod["containers"]
    data = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}["/var/lib/rabbitmq"]
    assert mounts["/var/lib/rabbitmq"] == data
    script = " ".join(init["command"])
    assert "cp /etc/rabbitmq-cookie/erlang-cookie /var/lib/rabbitmq/.erlang.cookie" in script
    assert "chmod 400 /var/lib/rabbitmq/.erlang.cookie" in script
    assert init["image"] == container["image"]
    assert "RABBITMQ_ERLANG_COOKIE" not in container_env(
        by_kind(resources, "StatefulSet")["rabbitmq"]
    )


def service_settings(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in by_kind(resources, "ConfigMap").values()
                if r["metadata"]["name"].startswith("service-settings"))  # fmt: skip


def expanded_env(resources: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet makes it: the ConfigMaps of envFrom,
    then env in order, each $(NAME) replaced by a variable defined before it. A value
    from a Secret reads <secret/key>."""
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    maps = by_kind(resources, "ConfigMap")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(maps[source["configMapRef"]["name"]]["data"])
    for variable in container["env"]:
        if "valueFrom" in variable:
            name, key = secret_key(variable)
            env[variable["name"]] = f"<{name}/{key}>"
        else:
            value = variable["value"]
            env[variable["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), value
            )
    return env


@pytest.mark.parametrize(("overlay", "scheme", "port"),
                         [("dev", "amqp", 5672), ("prod", "amqps", 5671)])  # fmt: skip
def test_every_service_is_given_each_node_and_declares_quorum_queues(
    overlay: str, scheme: str, port: int
) -> None:
    resources = render(overlay)
    rabbitmq = by_kind(resources, "StatefulSet")["rabbitmq"]["spec"]
    hosts = [f"rabbitmq-{n}.{rabbitmq['serviceName']}" for n in range(rabbitmq["replicas"])]
    login = "<broker-credentials/username>:<broker-credentials/password>"
    expected = ";".join(f"{scheme}://{login}@{host}:{port}/" for host in hosts)
    settings = service_settings(resources)
    assert settings["data"]["QUEUE_TYPE"] == "quorum"
    for name, workload in services(resources).items():
        assert expanded_env(resources, workload)["AMQP_URI"] == expected, name
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert {"configMapRef": {"name": settings["metadata"]["name"]}} in container["envFrom"]
        assert "QUEUE_TYPE" not in container_env(workload), name


def mounted(workload: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The volume a file of the (only) container comes from, and the file's name in it
    (the ConfigMap or Secret key)."""
    pod = workload["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if mount["mountPath"] == path and "subPath" in mount:
            return volumes[mount["name"]], mount["subPath"]
        if path.startswith(mount["mountPath"] + "/") and "subPath" not in mount:
            volume = volumes[mount["name"]]
            name = path[len(mount["mountPath"]) + 1 :]
            items = (volume.get("secret") or volume.get("configMap") or {}).get("items")
            keys = {item["path"]: item["key"] for item in items} if items else {name: name}
            return volume, keys[name]
    raise AssertionError(f"nothing mounted at {path}")


def test_the_prod_overlay_speaks_tls_to_rabbitmq_and_nothing_else() -> None:
    resources = render("prod")
    rabbitmq = by_kind(resources, "StatefulSet")["rabbitmq"]
    (container,) = rabbitmq["spec"]["template"]["spec"]["containers"]
    ports = {port["containerPort"] for port in container["ports"]}
    assert 5671 in ports and 5672 not in ports
    for name in ("rabbitmq", "rabbitmq-nodes"):
        service_ports = {p["port"] for p in by_kind(resources, "Service")[name]["spec"]["ports"]}
        assert 5671 in service_ports and 5672 not in service_ports, name

    # The node reads docker/rabbitmq-tls.conf from conf.d, and each file it names is
    # mounted from the rabbitmq-tls Secret.
    volume, key = mounted(rabbitmq, "/etc/rabbitmq/conf.d/30-tls.conf")
    config = by_kind(resources, "ConfigMap")[volume["configMap"]["name"]]["data"][key]
    assert config == (Path("docker") / "rabbitmq-tls.conf").read_text()
    tls = conf_settings(config)
    assert tls["listeners.tcp"] == "none" and tls["ssl_options.verify"] == "verify_peer"
    for setting, secret_key_name in (("cacertfile", "ca.crt"), ("certfile", "tls.crt"),
                                     ("keyfile", "tls.key")):  # fmt: skip
        volume, key = mounted(rabbitmq, tls[f"ssl_options.{setting}"])
        assert (volume["secret"]["secretName"], key) == ("rabbitmq-tls", secret_key_name)
    assert volume["secret"]["defaultMode"] == 0o440

    # The services verify the nodes against the CA from the same Secret.
    for name, workload in services(resources).items():
        ca_file = expanded_env(resources, workload)["AMQP_CA_FILE"]
        volume, key = mounted(workload, ca_file)
        assert (volume["secret"]["secretName"], key) == ("rabbitmq-tls", "ca.crt"), name


def test_the_dev_overlay_stays_plain_without_keys() -> None:
    resources = render("dev")
    for name, workload in services(resources).items():
        env = expanded_env(resources, workload)
        assert "AMQP_CA_FILE" not in env and "API_KEYS_FILE" not in env, name


def test_the_prod_gateway_wants_api_keys_from_a_secret_and_probes_stay_open() -> None:
    resources = render("prod")
    gateway = by_kind(resources, "Deployment")["gateway"]
    keys_file = expanded_env(resources, gateway)["API_KEYS_FILE"]
    volume, key = mounted(gateway, keys_file)
    assert (volume["secret"]["secretName"], key) == ("gateway-api-keys", "api-keys")
    # Mounted whole, not by subPath: the kubelet updates the file when the Secret changes,
    # and the gateway re-reads it (rotation without a restart).
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert all("subPath" not in m for m in container["volumeMounts"])
    # Orchestrators probe the open routes only.
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    for name in ("calc", "log"):
        assert "API_KEYS_FILE" not in expanded_env(resources, services(resources)[name]), name


def test_the_dev_certificates_name_every_broker_host_the_deployments_use(tmp_path: Path) -> None:
    subprocess.run(["docker/make-dev-certs", str(tmp_path)], check=True, capture_output=True)
    text = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "server.pem"), "-noout", "-ext",
         "subjectAltName"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    names = set(re.findall(r"DNS:([^,\s]+)", text))
    resources = render("prod")
    uri = expanded_env(resources, services(resources)["gateway"])["AMQP_URI"]
    hosts = re.findall(r"@([^:/]+):", uri)
    assert len(hosts) == 3
    # Kubernetes' nodes, compose's and Swarm's broker, the compose cluster's nodes.
    assert {*hosts, "rabbitmq", "rabbitmq1", "rabbitmq2", "rabbitmq3"} <= names


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
        "registry.example.com/nameko-stack/log:0.1.0",
    }
    (postgres,) = by_kind(resources, "StatefulSet")["postgres"]["spec"]["template"]["spec"][
        "containers"
    ]
    assert postgres["image"] == "registry.example.com/library/postgres:15"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_asks_prometheus_to_scrape_its_metrics_port(overlay: str) -> None:
    resources = render(overlay)
    workloads = by_kind(resources, "Deployment") | by_kind(resources, "StatefulSet")
    expected_ports = {"gateway": 8000, **default_ports.METRICS_PORTS, "rabbitmq": 15692}
    # PostgreSQL serves no metrics of its own here (an exporter would).
    assert set(workloads) - set(expected_ports) == {"postgres"}
    for name, workload in ((n, w) for n, w in workloads.items() if n in expected_ports):
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
        if name in default_ports.METRICS_PORTS:
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["METRICS_PORT"] == str(expected_ports[name]), name
            assert declared[expected_ports[name]] == "metrics", name


def test_rabbitmq_loads_the_plugins_compose_mounts() -> None:
    rabbitmq = by_kind(render("dev"), "StatefulSet")["rabbitmq"]["spec"]["template"]["spec"]
    (container,) = rabbitmq["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/rabbitmq/enabled_plugins"]["subPath"] == "enabled_plugins"


def test_the_broker_config_keeps_everything_compose_mounts() -> None:
    """The cluster's config adds peer discovery to docker/rabbitmq.conf, changing nothing."""
    single = conf_settings((Path("docker") / "rabbitmq.conf").read_text())
    cluster = conf_settings((KUBERNETES / "base" / "rabbitmq.conf").read_text())
    assert {key: cluster.get(key) for key in single} == single

    def plugins(path: Path) -> set[str]:
        listed = re.fullmatch(r"\[([a-z0-9_,\s]*)\]\.\s*", path.read_text())
        assert listed, path
        return {p.strip() for p in listed.group(1).split(",")}

    compose = plugins(Path("docker") / "enabled_plugins")
    assert plugins(KUBERNETES / "base" / "enabled_plugins") == compose | {
        "rabbitmq_peer_discovery_k8s"
    }


def test_strict_validation_refuses_an_unknown_field() -> None:
    deployment = by_kind(render("dev"), "Deployment")["calc"]
    deployment["spec"]["replica"] = 3  # a typo of "replicas"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.37", strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_log_runs_as_replicas_on_the_postgresql_statefulset(overlay: str) -> None:
    resources = render(overlay)
    assert "log" not in by_kind(resources, "StatefulSet"), "no SQLite writer is left"
    log = by_kind(resources, "Deployment")["log"]
    assert log["spec"]["replicas"] == (1 if overlay == "dev" else 3)
    postgres = by_kind(resources, "StatefulSet")["postgres"]
    assert postgres["spec"]["replicas"] == 1
    service = by_kind(resources, "Service")[postgres["spec"]["serviceName"]]["spec"]
    assert service["selector"] == postgres["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in service["ports"]] == [5432]
    env = expanded_env(resources, log)
    assert env["LOG_STORE_URL"] == f"postgresql://log@{postgres['metadata']['name']}:5432/log"
    assert "LOG_STORE_PATH" not in env
    database = expanded_env(resources, postgres)
    assert (database["POSTGRES_USER"], database["POSTGRES_DB"]) == ("log", "log")
    # Both read the password from the same Secret's key, as a file: never a variable.
    for workload, variable in ((log, "LOG_STORE_PASSWORD_FILE"),
                               (postgres, "POSTGRES_PASSWORD_FILE")):  # fmt: skip
        volume, key = mounted(workload, expanded_env(resources, workload)[variable])
        assert (volume["secret"]["secretName"], key) == ("log-store-credentials", "password")
        assert volume["secret"]["defaultMode"] == 0o440
        assert workload["spec"]["template"]["spec"]["securityContext"]["fsGroup"]
    manifests = yaml.safe_dump_all(resources)
    assert "POSTGRES_PASSWORD:" not in manifests and "postgresql://log:" not in manifests


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgresql_keeps_its_data_in_a_folder_of_its_claim_and_is_probed_over_tcp(
    overlay: str,
) -> None:
    postgres = by_kind(render(overlay), "StatefulSet")["postgres"]
    (container,) = postgres["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claim = postgres["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert mounts["/var/lib/postgresql/data"] == claim
    assert env["PGDATA"].startswith("/var/lib/postgresql/data/")
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        assert probe["exec"]["command"][:3] == ["pg_isready", "-h", "127.0.0.1"]
    # SIGTERM alone would wait for every log replica to disconnect: a fast stop first.
    assert 'pg_ctl -D "$PGDATA" -m fast' in " ".join(
        container["lifecycle"]["preStop"]["exec"]["command"]
    )
