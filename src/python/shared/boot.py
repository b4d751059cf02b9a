"""Process start-up: what must happen before anything imports sockets or threads."""

from __future__ import annotations

import importlib
import warnings


def monkey_patch() -> None:
    """Switch the process to eventlet green threads, as ``nameko run`` does.

    Nameko and kombu only cooperate once the standard library is patched, so this
    runs before the service's modules are imported.
    """
    # eventlet warns at import that it is in maintenance mode; Nameko 2 has no
    # other concurrency backend, so the warning would only be noise in every log.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()


def run(service_path: str) -> None:
    """Run the service class at ``"package.module:Class"`` as this process.

    The class is imported by name only after monkey-patching; a service's BUILD
    file lists its module as an explicit dependency of the PEX for that reason.
    """
    monkey_patch()
    module_name, class_name = service_path.split(":")
    service_cls = getattr(importlib.import_module(module_name), class_name)
    from shared.runner import run_service

    run_service(service_cls)
