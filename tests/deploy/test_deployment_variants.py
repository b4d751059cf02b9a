"""The compose overrides and Swarm stacks of the three-broker cluster and of TLS to the
broker, statically.

Compose's own `config` merges docker-compose.yml with an override as `up` would, and
`docker stack config` merges and validates the Swarm stack files against the Docker
client's schema, as `docker stack deploy` does before it deploys. The cluster's RabbitMQ
config, the brokers' entrypoints (run here with a stand-in server) and
deploy/swarm/create-secrets (run against a stand-in `docker`) are checked by what they do.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.deploy_files import (
    compose_config,
    create_secrets,
    merged_compose,
    mounts,
    stack_config,
)
from harness.rabbitmq_conf import conf_settings

NODES = ("rabbitmq1", "rabbitmq2", "rabbitmq3")
# The compose service of each node: node 1 is docker-compose.yml's `rabbitmq`.
COMPOSE_SERVICE = {"rabbitmq1": "rabbitmq", "rabbitmq2": "rabbitmq2", "rabbitmq3": "rabbitmq3"}
SERVICES = ("calc", "log", "gateway")
ENTRYPOINT = Path("docker/rabbitmq-cluster-entrypoint")
# Every broker's, the cluster's ends in it: the account from the environment, the server.
ACCOUNT_ENTRYPOINT = Path("docker/rabbitmq-entrypoint")
COOKIE = "cookie-from-the-environment-0123456789"
PASSWORD = "pw-from-the-environment"


def test_the_cluster_config_keeps_every_setting_of_the_single_broker() -> None:
    single = conf_settings(Path("docker/rabbitmq.conf").read_text())
    cluster = conf_settings(Path("docker/rabbitmq-cluster.conf").read_text())
    assert {key: cluster.get(key) for key in single} == single
    assert cluster["cluster_formation.peer_discovery_backend"] == "classic_config"
    nodes = {v for k, v in cluster.items() if k.startswith("cluster_formation.classic_config.")}
    assert nodes == {f"rabbit@{node}" for node in NODES}
    assert cluster["cluster_partition_handling"] == "pause_minority"


# --- the entrypoint ------------------------------------------------------------------


def entrypoint(home: Path, *command: str, script: Path = ENTRYPOINT, **env: str
               ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """`script` with HOME and TMPDIR at `home`, running `command` in place of the server."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "BROKER_"))}
    env = {**clean, "HOME": str(home), "TMPDIR": str(home), **env}
    return subprocess.run(
        ["/bin/sh", str(script), *command], capture_output=True, text=True, env=env, timeout=30
    )


# What the server would see: the cookie file's mode and content, and the variables.
SEES = [
    "sh",
    "-c",
    'stat -c %a "$HOME/.erlang.cookie"; cat "$HOME/.erlang.cookie"; echo; '
    'echo "variable=${RABBITMQ_ERLANG_COOKIE-unset}" "file=${RABBITMQ_ERLANG_COOKIE_FILE-unset}"',
]


def test_the_entrypoint_writes_the_cookie_from_the_environment_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    ran = entrypoint(tmp_path, *SEES, RABBITMQ_ERLANG_COOKIE=COOKIE)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["400", COOKIE, "variable=unset file=unset"]
    assert COOKIE not in ran.stdout.split("\n", 2)[2] + ran.stderr


def test_the_entrypoint_reads_a_cookie_file_and_replaces_an_older_cookie(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    old = home / ".erlang.cookie"
    old.write_text("an image's own cookie")
    old.chmod(0o400)
    secret = tmp_path / "erlang_cookie"
    secret.write_text(COOKIE + "\n")  # as create-secrets' here-string would end
    ran = entrypoint(home, *SEES, RABBITMQ_ERLANG_COOKIE_FILE=str(secret),
                     RABBITMQ_ERLANG_COOKIE="ignored when a file is named")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["400", COOKIE, "variable=unset file=unset"]
    assert sorted(p.name for p in home.iterdir()) == [".erlang.cookie"]


def test_the_entrypoint_refuses_to_start_a_node_without_a_cookie(tmp_path: Path) -> None:
    ran = entrypoint(tmp_path, "echo", "server started")
    assert ran.returncode == 78
    assert "server started" not in ran.stdout
    assert "RABBITMQ_ERLANG_COOKIE" in ran.stderr
    assert not (tmp_path / ".erlang.cookie").exists()


FAKE_DIAGNOSTICS = """#!/bin/sh
# A stand-in for rabbitmq-diagnostics: logs its arguments; the seed runs from the 3rd call.
echo "$*" >>"$CALLS"
[ "$(wc -l <"$CALLS")" -ge 3 ]
"""


@pytest.mark.parametrize("blank", [True, False], ids=["blank", "with-data"])
def test_a_blank_node_waits_for_the_seed_node_before_it_starts(tmp_path: Path, blank: bool) -> None:
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    bin_dir.mkdir()
    if not blank:
        (home / "mnesia" / "rabbit@rabbitmq2").mkdir(parents=True)
    (bin_dir / "rabbitmq-diagnostics").write_text(FAKE_DIAGNOSTICS)
    (bin_dir / "rabbitmq-diagnostics").chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    ran = entrypoint(
        home, "sh", "-c", 'echo "server starts; seed=${RABBITMQ_CLUSTER_SEED-unset}"',
        RABBITMQ_ERLANG_COOKIE=COOKIE, RABBITMQ_CLUSTER_SEED="rabbit@rabbitmq1",
        CALLS=str(calls), PATH=f"{bin_dir}:{os.environ['PATH']}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "server starts; seed=unset\n"
    expected = ["-q -n rabbit@rabbitmq1 check_running"] * 3 if blank else []
    assert calls.read_text().splitlines() == expected


# What the server would see of the account: the definitions it is told to load, and
# whether the password is still in its environment.
SEES_ACCOUNT = [
    "sh",
    "-c",
    'echo "args=${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS-unset}"; '
    'echo "user=${BROKER_USER-unset} password=${BROKER_PASSWORD-unset}"',
]


def test_the_account_entrypoint_makes_the_password_in_the_environment_the_brokers(
    tmp_path: Path,
) -> None:
    account = {"BROKER_USER": "ops", "BROKER_PASSWORD": PASSWORD}
    ran = entrypoint(tmp_path, *SEES_ACCOUNT, script=ACCOUNT_ENTRYPOINT,
                     RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 2", **account)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    definitions = tmp_path / "rabbitmq-account.json"
    assert ran.stdout.splitlines() == [
        f'args=+S 2 -rabbit load_definitions "{definitions}"',
        "user=unset password=unset",
    ]
    assert stat.S_IMODE(definitions.stat().st_mode) == 0o600
    loaded = json.loads(definitions.read_text())
    assert loaded["users"] == [{"name": "ops", "password": PASSWORD, "tags": "administrator"}]
    assert loaded["vhosts"] == [{"name": "/"}]
    (granted,) = loaded["permissions"]
    assert (granted["user"], granted["vhost"], granted["configure"]) == ("ops", "/", ".*")
    assert PASSWORD not in ran.stdout + ran.stderr


def test_without_a_password_the_account_entrypoint_leaves_the_account_to_the_deployment(
    tmp_path: Path,
) -> None:
    ran = entrypoint(tmp_path, *SEES_ACCOUNT, script=ACCOUNT_ENTRYPOINT)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["args=unset", "user=unset password=unset"]
    assert list(tmp_path.iterdir()) == []


def test_the_account_entrypoint_refuses_a_password_that_would_break_its_json(
    tmp_path: Path,
) -> None:
    ran = entrypoint(tmp_path, "echo", "server started", script=ACCOUNT_ENTRYPOINT,
                     BROKER_PASSWORD='pw"}], "users": [')  # fmt: skip
    assert ran.returncode == 78
    assert "server started" not in ran.stdout
    assert "BROKER_PASSWORD" in ran.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_cluster_node_sets_the_account_too(tmp_path: Path) -> None:
    ran = entrypoint(tmp_path, *SEES_ACCOUNT, RABBITMQ_ERLANG_COOKIE=COOKIE,
                     BROKER_PASSWORD=PASSWORD)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "load_definitions" in ran.stdout
    assert json.loads((tmp_path / "rabbitmq-account.json").read_text())["users"][0]["name"] == "app"


def test_the_entrypoint_starts_the_server_of_either_image() -> None:
    script = ACCOUNT_ENTRYPOINT.read_text()
    assert "exec docker-entrypoint.sh rabbitmq-server" in script  # rabbitmq:3.10-management
    assert "exec /usr/lib/rabbitmq/bin/rabbitmq-server" in script  # local/rabbitmq:3.10
    for path in (ENTRYPOINT, ACCOUNT_ENTRYPOINT):
        assert stat.S_IMODE(path.stat().st_mode) & 0o111, f"{path} executable, to run by hand"


# --- compose -------------------------------------------------------------------------


@pytest.fixture
def cluster_compose(tmp_path: Path) -> dict[str, Any]:
    return merged_compose(tmp_path, "docker-compose.yml", "docker-compose.cluster.yml",
                          BROKER_PASSWORD=PASSWORD, RABBITMQ_ERLANG_COOKIE=COOKIE)  # fmt: skip


def test_the_compose_override_runs_three_brokers_with_the_cookie_from_the_environment(
    cluster_compose: dict[str, Any],
) -> None:
    services = cluster_compose["services"]
    assert {"rabbitmq", "rabbitmq2", "rabbitmq3"} <= set(services)
    volumes = set()
    for node, name in COMPOSE_SERVICE.items():
        broker = services[name]
        assert broker["hostname"] == node, name
        assert broker["environment"]["RABBITMQ_ERLANG_COOKIE"] == COOKIE, name
        assert broker["environment"]["BROKER_PASSWORD"] == PASSWORD, name
        assert "check_port_connectivity" in broker["healthcheck"]["test"], name
        assert broker["entrypoint"] == ["/bin/sh", "/usr/local/bin/rabbitmq-cluster-entrypoint"]
        # Blank nodes 2 and 3 join node 1.
        seed = None if node == "rabbitmq1" else "rabbit@rabbitmq1"
        assert broker["environment"].get("RABBITMQ_CLUSTER_SEED") == seed, name
        mounted = mounts(broker)
        assert mounted["/etc/rabbitmq/rabbitmq.conf"].endswith("docker/rabbitmq-cluster.conf")
        assert mounted["/usr/local/bin/rabbitmq-cluster-entrypoint"].endswith(str(ENTRYPOINT))
        assert mounted["/usr/local/bin/rabbitmq-entrypoint"].endswith(str(ACCOUNT_ENTRYPOINT))
        assert mounted["/etc/rabbitmq/enabled_plugins"].endswith("docker/enabled_plugins")
        volumes.add(mounted["/var/lib/rabbitmq"])
    assert volumes == {f"{node}-data" for node in NODES}, "a volume per node"
    # The other nodes reach node 1 by its hostname.
    assert services["rabbitmq"]["networks"]["default"]["aliases"] == ["rabbitmq1"]
    # Only node 1 publishes the management UI, on loopback.
    assert all("ports" not in services[name] for name in ("rabbitmq2", "rabbitmq3"))


def test_the_compose_override_gives_every_service_all_three_nodes_and_quorum_queues(
    cluster_compose: dict[str, Any],
) -> None:
    services = cluster_compose["services"]
    expected_uri = ";".join(f"amqp://app:{PASSWORD}@{node}:5672/" for node in NODES)
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["AMQP_URI"] == expected_uri, name
        assert env["QUEUE_TYPE"] == "quorum", name
        depends = services[name]["depends_on"]
        assert set(depends) == set(COMPOSE_SERVICE.values()), name
        assert all(depends[b]["condition"] == "service_healthy" for b in depends), name
    prometheus = mounts(services["prometheus"])
    assert prometheus["/etc/prometheus/prometheus.yml"].endswith(
        "deploy/prometheus/prometheus.cluster.yml"
    )


def test_the_compose_override_requires_a_cookie_and_the_default_stack_needs_none(
    tmp_path: Path,
) -> None:
    refused = compose_config(tmp_path, "docker-compose.yml", "docker-compose.cluster.yml",
                             BROKER_PASSWORD=PASSWORD)  # fmt: skip
    assert refused.returncode != 0
    assert "set RABBITMQ_ERLANG_COOKIE in .env" in refused.stderr
    single = compose_config(tmp_path, "docker-compose.yml", BROKER_PASSWORD=PASSWORD)
    assert single.returncode == 0, single.stderr
    services = yaml.safe_load(single.stdout)["services"]
    assert not {"rabbitmq2", "rabbitmq3"} & set(services)
    assert services["rabbitmq"]["hostname"] == "rabbitmq"
    assert "RABBITMQ_ERLANG_COOKIE" not in services["rabbitmq"]["environment"]
    assert services["calc"]["environment"]["AMQP_URI"] == f"amqp://app:{PASSWORD}@rabbitmq:5672/"
    assert "QUEUE_TYPE" not in services["calc"]["environment"]


def test_no_file_gives_the_cookie_a_value() -> None:
    for path in ("docker-compose.yml", "docker-compose.cluster.yml", "docker-stack.yml",
                 "docker-stack.cluster.yml"):  # fmt: skip
        assert "RABBITMQ_ERLANG_COOKIE:-" not in Path(path).read_text(), path
    example = Path(".env.example").read_text()
    assert "RABBITMQ_ERLANG_COOKIE" in example
    assert not re.search(r"^\s*RABBITMQ_ERLANG_COOKIE\s*=", example, re.MULTILINE)


# --- Swarm ---------------------------------------------------------------------------


@pytest.mark.parametrize("no_ipvs", [False, True], ids=["ipvs", "no-ipvs"])
def test_the_swarm_cluster_stack_validates_and_runs_three_pinned_brokers(no_ipvs: bool) -> None:
    extra = ("docker-stack.no-ipvs.yml",) if no_ipvs else ()
    stack = stack_config("docker-stack.yml", "docker-stack.cluster.yml", *extra)
    services = stack["services"]
    assert services["rabbitmq"]["deploy"]["replicas"] == 0, "the single broker runs no task"
    placements, volumes = set(), set()
    for node in NODES:
        broker = services[node]
        assert broker["hostname"] == node
        assert broker["deploy"]["replicas"] == 1
        assert broker["deploy"]["endpoint_mode"] == "dnsrr"
        assert broker["deploy"]["update_config"]["order"] == "stop-first"
        (constraint,) = broker["deploy"]["placement"]["constraints"]
        placements.add(constraint)
        (volume,) = [v for v in broker["volumes"] if v["target"] == "/var/lib/rabbitmq"]
        volumes.add(volume["source"])
        assert broker["environment"]["RABBITMQ_ERLANG_COOKIE_FILE"] == "/run/secrets/erlang_cookie"
        assert "RABBITMQ_ERLANG_COOKIE" not in broker["environment"]
        seed = None if node == "rabbitmq1" else "rabbit@rabbitmq1"
        assert broker["environment"].get("RABBITMQ_CLUSTER_SEED") == seed, node
        assert {s["source"] for s in broker["secrets"]} == {"erlang_cookie", "rabbitmq_definitions"}
        files = {c["target"]: stack["configs"][c["source"]]["file"] for c in broker["configs"]}
        assert files["/etc/rabbitmq/rabbitmq.conf"].endswith("docker/rabbitmq-cluster.conf")
        assert files["/usr/local/bin/rabbitmq-cluster-entrypoint"].endswith(str(ENTRYPOINT))
        assert files["/usr/local/bin/rabbitmq-entrypoint"].endswith(str(ACCOUNT_ENTRYPOINT))
        assert broker["entrypoint"] == ["/bin/sh", "/usr/local/bin/rabbitmq-cluster-entrypoint"]
        assert "check_port_connectivity" in broker["healthcheck"]["test"]
    assert placements == {f"node.labels.nameko.{node} == true" for node in NODES}
    assert volumes == {f"{node}-data" for node in NODES}
    assert stack["secrets"]["erlang_cookie"] == {"external": True, "name": "nameko_erlang_cookie"}


def test_the_swarm_cluster_stack_gives_the_services_all_three_nodes_and_quorum_queues() -> None:
    stack = stack_config("docker-stack.yml", "docker-stack.cluster.yml")
    for name in SERVICES:
        service = stack["services"][name]
        assert service["environment"]["QUEUE_TYPE"] == "quorum", name
        assert service["environment"]["AMQP_URI_FILE"] == "/run/secrets/amqp_uri", name
        assert [s["source"] for s in service["secrets"]] == ["amqp_uri"], name
    # The secret named amqp_uri in the stack is the cluster's URI list.
    assert stack["secrets"]["amqp_uri"]["name"] == "nameko_amqp_uri_cluster"
    prometheus = stack["services"]["prometheus"]
    files = {c["target"]: stack["configs"][c["source"]]["file"] for c in prometheus["configs"]}
    assert files["/etc/prometheus/prometheus.yml"].endswith("prometheus.swarm.cluster.yml")
    # The single-broker stack is as it was.
    single = stack_config("docker-stack.yml")
    assert not set(NODES) & set(single["services"])
    assert single["secrets"]["amqp_uri"]["name"] == "nameko_amqp_uri"
    assert "QUEUE_TYPE" not in single["services"]["calc"]["environment"]


def test_create_secrets_makes_the_cluster_secrets_with_cluster(tmp_path: Path) -> None:
    ran, made = create_secrets(tmp_path, "--cluster", BROKER_PASSWORD=PASSWORD,
                               RABBITMQ_ERLANG_COOKIE=COOKIE)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert set(made) == {"nameko_amqp_uri", "nameko_rabbitmq_definitions",
                         "nameko_amqp_uri_cluster", "nameko_erlang_cookie"}  # fmt: skip
    assert made["nameko_erlang_cookie"] == COOKIE
    uris = made["nameko_amqp_uri_cluster"].strip().split(";")
    assert uris == [f"amqp://app:{PASSWORD}@{node}:5672/" for node in NODES]
    assert made["nameko_amqp_uri"].strip() == f"amqp://app:{PASSWORD}@rabbitmq:5672/"
    assert COOKIE not in ran.stdout + ran.stderr and PASSWORD not in ran.stdout + ran.stderr

    # Again: what exists is kept, and said so.
    again, kept = create_secrets(tmp_path, "--cluster", BROKER_PASSWORD="another",
                                 RABBITMQ_ERLANG_COOKIE="another")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert kept == made
    assert again.stdout.count("kept ") == 4


def test_create_secrets_without_cluster_makes_the_single_broker_secrets_only(
    tmp_path: Path,
) -> None:
    ran, made = create_secrets(tmp_path, BROKER_PASSWORD=PASSWORD)
    assert ran.returncode == 0, ran.stderr
    assert set(made) == {"nameko_amqp_uri", "nameko_rabbitmq_definitions"}


def test_create_secrets_refuses_a_cluster_without_a_cookie(tmp_path: Path) -> None:
    ran, made = create_secrets(tmp_path, "--cluster", BROKER_PASSWORD=PASSWORD)
    assert ran.returncode != 0
    assert "set RABBITMQ_ERLANG_COOKIE" in ran.stderr
    assert made == {}


# --- TLS to the broker ---------------------------------------------------------------

TLS_DIR = "/etc/rabbitmq/tls"


def tls_settings() -> dict[str, str]:
    """docker/rabbitmq-tls.conf: TLS only, its files under TLS_DIR as make-dev-certs
    names them."""
    tls = conf_settings(Path("docker/rabbitmq-tls.conf").read_text())
    assert tls["listeners.tcp"] == "none"
    assert tls["listeners.ssl.default"] == "5671"
    assert tls["ssl_options.verify"] == "verify_peer"
    assert tls["ssl_options.cacertfile"] == f"{TLS_DIR}/ca.pem"
    assert tls["ssl_options.certfile"] == f"{TLS_DIR}/server.pem"
    return tls


def test_the_compose_tls_override_serves_tls_only_and_the_services_verify_the_node(
    tmp_path: Path,
) -> None:
    certs = tmp_path / "certs"
    merged = merged_compose(tmp_path, "docker-compose.yml", "docker-compose.tls.yml",
                            BROKER_PASSWORD=PASSWORD, TLS_CERTS_DIR=str(certs))  # fmt: skip
    services = merged["services"]
    broker = mounts(services["rabbitmq"])
    assert broker["/etc/rabbitmq/conf.d/20-tls.conf"].endswith("docker/rabbitmq-tls.conf")
    assert broker[TLS_DIR] == str(certs)
    assert tls_settings()["ssl_options.keyfile"] == f"{TLS_DIR}/server.key"
    for name in SERVICES:
        environment = services[name]["environment"]
        assert environment["AMQP_URI"] == f"amqps://app:{PASSWORD}@rabbitmq:5671/", name
        assert mounts(services[name])[environment["AMQP_CA_FILE"]] == str(certs / "ca.pem")


@pytest.mark.parametrize("no_ipvs", [False, True], ids=["ipvs", "no-ipvs"])
def test_the_swarm_tls_stack_gives_the_node_its_key_as_a_secret_and_the_services_the_ca(
    no_ipvs: bool,
) -> None:
    extra = ("docker-stack.no-ipvs.yml",) if no_ipvs else ()
    stack = stack_config("docker-stack.yml", "docker-stack.tls.yml", *extra)
    broker = stack["services"]["rabbitmq"]
    files = {c["target"]: stack["configs"][c["source"]]["file"] for c in broker["configs"]}
    assert files["/etc/rabbitmq/conf.d/30-tls.conf"].endswith("docker/rabbitmq-tls.conf")
    tls = tls_settings()
    assert files[tls["ssl_options.cacertfile"]].endswith("certs/ca.pem")
    assert files[tls["ssl_options.certfile"]].endswith("certs/server.pem")
    # The key is a secret, readable by the broker's user only, read after the TLS config.
    key_conf = conf_settings(Path(files["/etc/rabbitmq/conf.d/31-tls-swarm.conf"]).read_text())
    (key,) = [s for s in broker["secrets"] if s["source"] == "rabbitmq_tls_key"]
    assert key_conf == {"ssl_options.keyfile": f"/run/secrets/{key['target']}"}
    assert (key["uid"], key["mode"]) == ("999", 0o400)
    assert stack["secrets"]["rabbitmq_tls_key"]["name"] == "nameko_rabbitmq_tls_key"
    # The services read an amqps:// URI from another secret, and the CA from a config.
    assert stack["secrets"]["amqp_uri"]["name"] == "nameko_amqp_uri_tls"
    for name in SERVICES:
        service = stack["services"][name]
        assert service["environment"]["AMQP_URI_FILE"] == "/run/secrets/amqp_uri", name
        targets = {c["target"]: c["source"] for c in service["configs"]}
        assert targets[service["environment"]["AMQP_CA_FILE"]] == "amqp_ca", name


def test_create_secrets_makes_the_tls_secrets_with_tls(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "server.key").write_text("the node's key")
    ran, made = create_secrets(tmp_path, "--tls", BROKER_PASSWORD=PASSWORD,
                               TLS_CERTS_DIR=str(certs))  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert made["nameko_amqp_uri_tls"] == f"amqps://app:{PASSWORD}@rabbitmq:5671/\n"
    assert made["nameko_rabbitmq_tls_key"] == "the node's key"


def test_create_secrets_refuses_tls_without_a_key(tmp_path: Path) -> None:
    ran, made = create_secrets(tmp_path, "--tls", BROKER_PASSWORD=PASSWORD,
                               TLS_CERTS_DIR=str(tmp_path / "nowhere"))  # fmt: skip
    assert ran.returncode != 0 and "make-dev-certs" in ran.stderr
    assert made == {}, "nothing is made before the key is found"
