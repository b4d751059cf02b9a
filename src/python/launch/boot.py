"""Process start-up: the commands a service's PEX (or image) answers to.

``calc.pex`` runs the service; ``calc.pex healthcheck`` exits 0 if the running service
is healthy; ``calc.pex shell`` opens ``nameko shell`` on the configured broker.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

USAGE = "usage: {prog} [run | healthcheck | shell]"


def monkey_patch() -> None:
    """Switch the process to eventlet green threads, as ``nameko run`` does.

    Nameko and kombu only cooperate once the standard library is patched, so this
    runs before the service's modules are imported.
    """
    # eventlet warns at import that it is in maintenance mode; Nameko 2 has no
    # other concurrency backend, so the warning would only be noise in every log.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    # eventlet's own DNS resolver caches failed lookups: a service started before its
    # broker's name resolves (a Swarm task, a Kubernetes pod) would keep failing long
    # after it does. The system resolver, called on connect only, has no such cache.
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    import eventlet

    eventlet.monkey_patch()
    # prometheus-client locks around every update of a value (runtime.green says why the
    # real lock serves). Metrics are made after this, as the service's modules are
    # imported, so each gets the real one.
    import prometheus_client.metrics
    import prometheus_client.values

    from runtime.green import use_real_locks

    use_real_locks(prometheus_client.values, prometheus_client.metrics)


def run(service_path: str, metrics_port: int = 0) -> None:
    """Act on ``sys.argv`` for the service class at ``"package.module:Class"``.

    The class is imported by name only after monkey-patching; a service's BUILD
    file lists its module as an explicit dependency of the PEX for that reason.
    `metrics_port` is the service's own default ``METRICS_PORT`` (see
    `runtime.config.config_from_env`).
    """
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command not in ("run", "healthcheck", "shell") or len(sys.argv) > 2:
        sys.exit(USAGE.format(prog=sys.argv[0]))
    monkey_patch()
    module_name, class_name = service_path.split(":")
    service_cls = getattr(importlib.import_module(module_name), class_name)

    from runtime.config import Settings, config_from_env
    from runtime.errors import ConfigError

    try:
        config = config_from_env(metrics_port=metrics_port)
    except ConfigError as exc:
        sys.exit(f"{service_cls.name}: invalid configuration: {exc}")
    settings = Settings.from_config(config)
    if command == "healthcheck":
        from launch.health import check

        sys.exit(0 if check(service_cls, settings) else 1)
    if command == "shell":
        from launch.shell import start

        start(settings)
        return
    from launch.runner import run_service

    run_service(service_cls, config)
