"""Running one service as a process: configuration from env, JSON logs, signals."""

from __future__ import annotations

import gc
import logging
from typing import Any

from nameko.cli.run import run
from nameko.utils import sanitize_url

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
        sanitize_url(settings.amqp_uri),
        settings.max_workers,
    )
    # What exists now (modules, classes, the service's code) lives as long as the
    # process. Frozen, the collector stops walking it in every full collection: under
    # load those stalled every request in flight (see the README's benchmark section).
    gc.collect()
    gc.freeze()
    run([service_cls], config)
    _log.info("%s stopped", name)
