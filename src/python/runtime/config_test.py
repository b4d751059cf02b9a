from pathlib import Path

import pytest
from nameko.constants import (
    AMQP_URI_CONFIG_KEY,
    HEARTBEAT_CONFIG_KEY,
    MAX_WORKERS_CONFIG_KEY,
    WEB_SERVER_CONFIG_KEY,
)

from runtime.config import Settings, config_from_env
from runtime.errors import ConfigError


def test_defaults_suit_a_local_run() -> None:
    config = config_from_env({})
    assert config[AMQP_URI_CONFIG_KEY] == "amqp://guest:guest@localhost:5672/"
    assert config[WEB_SERVER_CONFIG_KEY] == "0.0.0.0:8000"
    assert config["RPC_TIMEOUT"] == 5.0


def test_env_vars_override_defaults_and_are_typed() -> None:
    config = config_from_env(
        {"AMQP_URI": "amqp://u:p@broker:5672/", "RPC_TIMEOUT": "0.5", "MAX_WORKERS": "8"}
    )
    assert config[AMQP_URI_CONFIG_KEY] == "amqp://u:p@broker:5672/"
    assert config["RPC_TIMEOUT"] == 0.5
    assert config[MAX_WORKERS_CONFIG_KEY] == 8


def test_the_service_s_own_metrics_port_is_a_default_that_the_env_overrides() -> None:
    assert config_from_env({})["METRICS_PORT"] == 0
    assert config_from_env({}, metrics_port=9465)["METRICS_PORT"] == 9465
    assert config_from_env({"METRICS_PORT": "9500"}, metrics_port=9465)["METRICS_PORT"] == 9500
    assert config_from_env({"METRICS_PORT": "0"}, metrics_port=9465)["METRICS_PORT"] == 0


def test_nameko_reads_its_own_keys_from_the_same_names() -> None:
    settings = Settings(heartbeat=7)
    assert settings.to_config()[HEARTBEAT_CONFIG_KEY] == 7


def test_settings_read_a_nameko_yaml_config_with_string_values() -> None:
    settings = Settings.from_config({"MAX_NUMBERS": "50", "max_workers": 4})
    assert settings.max_numbers == 50
    assert settings.max_workers == 4
    assert settings.rpc_timeout == Settings().rpc_timeout


@pytest.mark.parametrize(
    "env",
    [{"RPC_TIMEOUT": "soon"}, {"MAX_NUMBERS": "0"}, {"MAX_BODY_BYTES": "1.5"}],
)
def test_invalid_values_are_refused_with_their_name(env: dict[str, str]) -> None:
    (name,) = env
    with pytest.raises(ConfigError, match=name):
        config_from_env(env)


def test_the_broker_uri_can_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "amqp_uri"
    secret.write_text("amqp://app:s3cret@rabbitmq:5672/\n")
    config = config_from_env({"AMQP_URI_FILE": str(secret)})
    assert config[AMQP_URI_CONFIG_KEY] == "amqp://app:s3cret@rabbitmq:5672/"
    with pytest.raises(ConfigError, match="AMQP_URI_FILE"):
        config_from_env({"AMQP_URI_FILE": str(tmp_path / "missing")})
