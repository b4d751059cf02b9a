"""Every setting a service reads, in one table.

A setting has one name, used both as the environment variable and as the key in
Nameko's config dict, so the same names work in a `nameko run --config` YAML file
(``MAX_NUMBERS: ${MAX_NUMBERS:10000}``) and in a container's environment. The only
exception is Nameko's own ``max_workers`` key, which is read from ``MAX_WORKERS``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from nameko.constants import MAX_WORKERS_CONFIG_KEY
from nameko.extensions import DependencyProvider, SharedExtension

from runtime.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Typed view of a service's configuration, with the defaults a local run wants."""

    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    amqp_ca_file: str = ""
    amqp_cert_file: str = ""
    amqp_key_file: str = ""
    web_server_address: str = "0.0.0.0:8000"
    rpc_timeout: float = 5.0
    ready_timeout: float = 1.0
    confirm_timeout: float = 5.0
    max_numbers: int = 10_000
    max_body_bytes: int = 1_048_576
    http_timeout: float = 30.0
    keepalive_timeout: float = 15.0
    max_connections: int = 1000
    api_keys_file: str = ""
    rate_limit: float = 0.0
    rate_burst: int = 20
    log_store_path: str = "log-store.sqlite3"
    # May hold the database's password: never shown.
    log_store_url: str = dataclasses.field(default="", repr=False)
    log_store_password_file: str = ""
    log_level: str = "INFO"
    access_log: bool = False
    max_workers: int = 32
    heartbeat: int = 30
    metrics_port: int = 0  # none, unless the service has a default of its own (config_from_env)
    queue_type: str = "classic"
    delivery_limit: int = 5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read settings from a Nameko config dict; missing keys keep their defaults."""
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            key = config_key(field.name)
            if key in config and config[key] is not None:
                values[field.name] = _coerce(key, config[key], field.type)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values that would make a service misbehave rather than fail early."""
        positive = (
            "rpc_timeout",
            "ready_timeout",
            "confirm_timeout",
            "max_numbers",
            "max_body_bytes",
            "http_timeout",
            "keepalive_timeout",
            "max_connections",
            "rate_burst",
            "max_workers",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{config_key(name)} must be positive")
        if self.heartbeat < 0:
            raise ConfigError("HEARTBEAT must not be negative")
        if bool(self.amqp_cert_file) != bool(self.amqp_key_file):
            raise ConfigError("AMQP_CERT_FILE and AMQP_KEY_FILE go together")
        for name in ("amqp_ca_file", "amqp_cert_file", "amqp_key_file", "api_keys_file",
                     "log_store_password_file"):  # fmt: skip
            path = getattr(self, name)
            if path and not os.access(path, os.R_OK):
                raise ConfigError(f"{config_key(name)}: cannot read {path}")
        stores = ("sqlite:///", "postgresql://", "postgres://")
        if self.log_store_url and not self.log_store_url.startswith(stores):
            raise ConfigError("LOG_STORE_URL must be sqlite:///PATH or postgresql://...")
        if urlsplit(self.log_store_url).password is not None and self.log_store_password_file:
            raise ConfigError("the log store's password: LOG_STORE_URL or the file, not both")
        if self.rate_limit < 0:
            raise ConfigError("RATE_LIMIT must not be negative (0 turns it off)")
        if self.queue_type not in ("classic", "quorum"):
            raise ConfigError("QUEUE_TYPE must be classic or quorum")
        if self.delivery_limit < 1:
            raise ConfigError("DELIVERY_LIMIT must be positive")
        if not 0 <= self.metrics_port <= 65535:
            raise ConfigError("METRICS_PORT must be a port number, or 0 for none")

    def to_config(self) -> dict[str, Any]:
        """The Nameko config dict for these settings."""
        return {config_key(f.name): getattr(self, f.name) for f in dataclasses.fields(self)}


def config_key(field_name: str) -> str:
    """The env var / config key of a `Settings` field."""
    if field_name == "max_workers":
        return MAX_WORKERS_CONFIG_KEY
    return field_name.upper()


def config_from_env(
    environ: Mapping[str, str] = os.environ, metrics_port: int = 0
) -> dict[str, Any]:
    """Build the Nameko config dict from environment variables over the defaults.

    `metrics_port` is the service's own default ``METRICS_PORT`` (0: none): each service
    without HTTP has one, so that the services' defaults never collide on one host.
    ``AMQP_URI_FILE`` names a file holding the URI instead (a Docker or Kubernetes
    secret), so the broker password need not be in the environment at all.
    """
    config = Settings(metrics_port=metrics_port).to_config()
    for field in dataclasses.fields(Settings):
        name = field.name.upper()
        if environ.get(name):
            config[config_key(field.name)] = environ[name]
    if environ.get("AMQP_URI_FILE"):
        try:
            config[config_key("amqp_uri")] = Path(environ["AMQP_URI_FILE"]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"AMQP_URI_FILE: cannot read {exc.filename}") from None
    settings = Settings.from_config(config)
    return settings.to_config()


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    return words[str(raw).strip().lower()]


_KINDS: dict[str, Callable[[Any], Any]] = {"str": str, "int": int, "float": float, "bool": _boolean}


def _coerce(key: str, raw: Any, type_name: Any) -> Any:
    kind = str(type_name)
    try:
        if kind == "int" and isinstance(raw, (float, bool)):
            raise ValueError(raw)
        return _KINDS[kind](raw)
    except (TypeError, ValueError, KeyError):
        raise ConfigError(f"{key}={raw!r} is not a valid {kind}") from None


class ContainerSettings(SharedExtension):
    """The container's `Settings`, parsed once and shared by every extension that reads them.

    Extensions declare ``settings = ContainerSettings()`` and read
    ``self.settings.values``.
    """

    @cached_property
    def values(self) -> Settings:
        return Settings.from_config(self.container.config)


class SettingsProvider(DependencyProvider):
    """Injects the container's `Settings` into the service's workers."""

    shared = ContainerSettings()

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return self.shared.values
