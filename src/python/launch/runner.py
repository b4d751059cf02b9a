"""Running one service as a process: configuration from env, JSON logs, signals, and one
clear line, not a traceback, when a port it needs is taken."""

from __future__ import annotations

import gc
import logging
import resource
import sys
from typing import Any

import eventlet
from nameko.cli.run import run
from nameko.web.server import parse_address
from prometheus_client import start_http_server

from amqp_client.connect import sanitized
from launch.health import serves_http
from runtime import tracing
from runtime.config import Settings
from runtime.errors import PortUnavailable
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
    if tracing.configure(name):
        _log.info("exporting traces over OTLP/HTTP")
    try:
        if serves_http(service_cls):
            # It serves /metrics on its own port too (the gateway's route).
            _check_listen("WEB_SERVER_ADDRESS", settings.web_server_address)
        elif settings.metrics_port:
            _serve_metrics(settings.metrics_port)
        # Each HTTP connection is a file: let the gateway hold MAX_CONNECTIONS of them.
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        # What exists now (modules, classes, the service's code) lives as long as the
        # process. Frozen, the collector stops walking it in every full collection: under
        # load those stalled every request in flight (see docs/benchmark.md).
        gc.collect()
        gc.freeze()
        run([service_cls], config)
    except PortUnavailable as exc:
        # Exit, not serve without metrics: the process would look healthy to its platform
        # while Prometheus saw nothing. One line that names the setting, no traceback.
        _log.error("%s", exc)
        sys.exit(1)
    finally:
        tracing.shutdown()
    _log.info("%s stopped", name)


def _check_listen(setting: str, address: str) -> None:
    """Raise `PortUnavailable` if `address` cannot be listened on now.

    Nameko binds it later, in a green thread of the container's start, and eventlet's
    hub prints the traceback of a bind that fails there before anything can catch it.
    (A port taken in the moment between still fails there, with that traceback.)
    """
    try:
        eventlet.listen(parse_address(address)).close()
    except OSError as exc:
        raise PortUnavailable(setting, address, exc) from None


def _serve_metrics(port: int) -> None:
    """Prometheus' ``/metrics`` on `port`, from a thread of prometheus-client's."""
    try:
        start_http_server(port)
    except OSError as exc:
        raise PortUnavailable("METRICS_PORT", f"0.0.0.0:{port}", exc) from None
    _log.info("metrics on port %d (/metrics)", port)
