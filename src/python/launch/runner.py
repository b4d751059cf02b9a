"""Running one service as a process: configuration from env, JSON logs, signals."""

from __future__ import annotations

import gc
import logging
import resource
from typing import Any

from nameko.cli.run import run
from prometheus_client import start_http_server

from amqp_client.connect import sanitized
from launch.health import serves_http
from runtime import tracing
from runtime.config import Settings
from runtime.logs import configure_logging

_log = logging.getLogger(__name__)


def run_service(service_cls: type, config: dict[str, Any]) -> None:
    """Run `service_cls` until SIGTERM or Ctrl-C, then stop it gracefully.

    Call `launch.boot.monkey_patch` first. Nameko's runner handles the signals:
    entrypoints stop accepting work, running workers finish, then the process exits.
    """
    name = service_cls.name  # type: ignore[attr-defined]
    settings = Settings.from_config(config)
    configure_logging(name, settings.log_level)
    _log.info(
        "starting %s (broker %s, %d workers)",
        name,
        sanitized(settings.amqp_uri),
        settings.max_workers,
    )
    # What exists now (modules, classes, the service's code) lives as long as the
    # process. Frozen, the collector stops walking it in every full collection: under
    # load those stalled every request in flight (see docs/benchmark.md).
    if tracing.configure(name):
        _log.info("exporting traces over OTLP/HTTP")
    if settings.metrics_port and not serves_http(service_cls):
        # A service with HTTP serves /metrics on its own port (the gateway's route).
        start_http_server(settings.metrics_port)
        _log.info("metrics on port %d (/metrics)", settings.metrics_port)
    # Each HTTP connection is a file: let the gateway hold MAX_CONNECTIONS of them.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gc.collect()
    gc.freeze()
    try:
        run([service_cls], config)
    finally:
        tracing.shutdown()
    _log.info("%s stopped", name)
