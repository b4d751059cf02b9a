"""log on PostgreSQL in the compose override and the Swarm stack, statically.

Compose's own ``config`` merges docker-compose.postgres.yml over docker-compose.yml as
``up`` would; ``docker stack config`` merges and validates docker-stack.postgres.yml as
``docker stack deploy`` does. deploy/swarm/create-secrets runs against a stand-in
``docker``. (The Kubernetes manifests are checked with the others, in
test_kubernetes_manifests.py.)
"""

from __future__ import annotations

import re
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

BROKER_PASSWORD = "broker-pw-from-the-environment"
PASSWORD = "db-pw-from-the-environment"
SECRET_FILE = "/run/secrets/log_store_password"
PG_READY = ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "log", "-d", "log"]


@pytest.fixture
def postgres_compose(tmp_path: Path) -> dict[str, Any]:
    return merged_compose(tmp_path, "docker-compose.yml", "docker-compose.postgres.yml",
                          BROKER_PASSWORD=BROKER_PASSWORD, POSTGRES_PASSWORD=PASSWORD)  # fmt: skip


def test_the_compose_override_runs_postgresql_with_the_password_from_the_environment(
    postgres_compose: dict[str, Any],
) -> None:
    postgres = postgres_compose["services"]["postgres"]
    assert postgres["image"] == "postgres:15"
    environment = postgres["environment"]
    assert (environment["POSTGRES_USER"], environment["POSTGRES_DB"]) == ("log", "log")
    assert environment["POSTGRES_PASSWORD"] == PASSWORD
    assert mounts(postgres)["/var/lib/postgresql/data"] == "postgres-data"
    assert postgres["healthcheck"]["test"] == PG_READY
    # A fast shutdown: on SIGTERM the server would wait for every log replica to leave.
    assert postgres["stop_signal"] == "SIGINT"
    assert "ports" not in postgres, "the database is reached on the compose network only"


def test_the_compose_override_runs_three_log_replicas_on_it_once_it_is_healthy(
    postgres_compose: dict[str, Any],
) -> None:
    log = postgres_compose["services"]["log"]
    assert log["deploy"]["replicas"] == 3
    assert log["environment"]["LOG_STORE_URL"] == f"postgresql://log:{PASSWORD}@postgres:5432/log"
    depends = log["depends_on"]
    assert set(depends) == {"rabbitmq", "postgres"}
    assert all(d["condition"] == "service_healthy" for d in depends.values())
    assert "ports" not in log


def test_the_compose_override_requires_a_password_and_the_default_stack_keeps_sqlite(
    tmp_path: Path,
) -> None:
    refused = compose_config(tmp_path, "docker-compose.yml", "docker-compose.postgres.yml",
                             BROKER_PASSWORD=BROKER_PASSWORD)  # fmt: skip
    assert refused.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in refused.stderr
    single = compose_config(tmp_path, "docker-compose.yml", BROKER_PASSWORD=BROKER_PASSWORD)
    assert single.returncode == 0, single.stderr
    services = yaml.safe_load(single.stdout)["services"]
    assert "postgres" not in services
    assert "LOG_STORE_URL" not in services["log"]["environment"]
    assert mounts(services["log"])["/data"] == "log-data"


def test_the_compose_override_takes_the_image_docker_build_base_images_makes(
    tmp_path: Path,
) -> None:
    merged = merged_compose(tmp_path, "docker-compose.yml", "docker-compose.postgres.yml",
                            BROKER_PASSWORD=BROKER_PASSWORD, POSTGRES_PASSWORD=PASSWORD,
                            POSTGRES_IMAGE="local/postgres:15")  # fmt: skip
    assert merged["services"]["postgres"]["image"] == "local/postgres:15"
    script = Path("docker/build-base-images").read_text()
    assert 'POSTGRES_IMAGE="local/postgres:15"' in script
    assert "copy-in docker/postgres-entrypoint /usr/local/bin" in script


@pytest.mark.parametrize("no_ipvs", [False, True], ids=["ipvs", "no-ipvs"])
def test_the_swarm_stack_runs_log_as_three_unpinned_replicas_on_postgresql(no_ipvs: bool) -> None:
    extra = ("docker-stack.no-ipvs.yml",) if no_ipvs else ()
    stack = stack_config("docker-stack.yml", "docker-stack.postgres.yml", *extra)
    services = stack["services"]
    assert services["log"]["deploy"]["replicas"] == 0, "the SQLite writer runs no task"
    replicas = services["log-postgres"]
    assert replicas["image"] == services["log"]["image"]
    deploy = replicas["deploy"]
    assert deploy["replicas"] == 3
    assert "placement" not in deploy, "any node"
    assert deploy["update_config"]["order"] == "start-first"
    assert deploy["endpoint_mode"] == "dnsrr"
    environment = replicas["environment"]
    assert environment["LOG_STORE_URL"] == "postgresql://log@postgres:5432/log"
    assert environment["LOG_STORE_PASSWORD_FILE"] == SECRET_FILE
    # Every setting the stack gives log, log-postgres has too, with the same value.
    assert services["log"]["environment"].items() <= environment.items()
    assert {s["source"] for s in replicas["secrets"]} == {"amqp_uri", "log_store_password"}
    assert replicas["read_only"] is True


def test_the_swarm_stack_runs_postgresql_on_a_manager_with_its_password_as_a_secret() -> None:
    stack = stack_config("docker-stack.yml", "docker-stack.postgres.yml")
    postgres = stack["services"]["postgres"]
    assert postgres["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    assert postgres["deploy"]["endpoint_mode"] == "dnsrr"
    (volume,) = [v for v in postgres["volumes"] if v["target"] == "/var/lib/postgresql/data"]
    assert volume["source"] == "postgres-data"
    assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == SECRET_FILE
    assert "POSTGRES_PASSWORD" not in postgres["environment"]
    (secret,) = postgres["secrets"]
    assert (secret["source"], secret.get("target", secret["source"])) == (
        "log_store_password",
        "log_store_password",
    )
    assert postgres["healthcheck"]["test"] == PG_READY
    assert postgres["stop_signal"] == "SIGINT"
    assert stack["secrets"]["log_store_password"] == {
        "external": True,
        "name": "nameko_log_store_password",
    }
    # Without the override, the stack is as it was: one SQLite writer on a manager.
    single = stack_config("docker-stack.yml")
    assert "postgres" not in single["services"] and "log-postgres" not in single["services"]
    assert single["services"]["log"]["deploy"]["replicas"] == 1


def test_create_secrets_makes_the_database_password_with_postgres(tmp_path: Path) -> None:
    ran, made = create_secrets(tmp_path, "--postgres", BROKER_PASSWORD=BROKER_PASSWORD,
                               POSTGRES_PASSWORD=PASSWORD)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert made["nameko_log_store_password"] == PASSWORD
    assert PASSWORD not in ran.stdout + ran.stderr


def test_create_secrets_makes_a_random_database_password_when_none_is_given(
    tmp_path: Path,
) -> None:
    ran, made = create_secrets(tmp_path, "--postgres", BROKER_PASSWORD=BROKER_PASSWORD)
    assert ran.returncode == 0, ran.stderr
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", made["nameko_log_store_password"])
    plain = tmp_path / "plain"
    plain.mkdir()
    _, without = create_secrets(plain, BROKER_PASSWORD=BROKER_PASSWORD)
    assert "nameko_log_store_password" not in without


def test_stack_up_postgres_refuses_the_embedded_stack(tmp_path: Path) -> None:
    ran = subprocess.run(
        ["bash", "stack", "up", "--postgres", "--embedded"], capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "STACK_STATE_DIR": str(tmp_path)},
    )  # fmt: skip
    assert ran.returncode != 0
    assert "--postgres runs log's database as a container" in ran.stderr
