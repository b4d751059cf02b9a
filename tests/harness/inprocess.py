"""Services run inside the test process, as ``nameko run`` would run them.

Tests run under eventlet's monkey patch (the pytest-eventlet plugin), so services,
HTTP clients and the test itself share one green-threaded process.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable

import eventlet
from nameko.containers import ServiceContainer
from nameko.runners import ServiceRunner

from devstack.waiting import answers_ok, free_port, wait_for
from messaging.link import SharedAmqpLink
from runtime.config import Settings


@dataclasses.dataclass
class RunningServices:
    """A started `ServiceRunner` and what tests need to reach it."""

    runner: ServiceRunner
    settings: Settings

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.web_server_address}"

    def container(self, service_name: str) -> ServiceContainer:
        for container in self.runner.containers:
            if container.service_name == service_name:
                return container
        raise KeyError(service_name)

    def extension(self, service_name: str, extension_type: type) -> Any:
        """The (first) extension of `extension_type` in a service's container."""
        container = self.container(service_name)
        for extension in container.extensions | container.subextensions:
            if isinstance(extension, extension_type):
                return extension
        raise KeyError(extension_type)

    def wait_until_ready(self, timeout: float = 15) -> None:
        """Wait until the gateway reports ready (broker connected, calc answering)."""
        wait_for(lambda: answers_ok(self.base_url + "/ready"), timeout, "the gateway to be ready")

    def wait_until_linked(self, timeout: float = 15) -> None:
        """Wait until every service's broker link is up (its queues declared and consumed).

        A stock Nameko service has no link: its consumers are ready once it has started.
        """
        for container in self.runner.containers:
            try:
                link = self.extension(container.service_name, SharedAmqpLink).link
            except KeyError:
                continue
            wait_for(lambda: link.connected, timeout, f"{container.service_name}'s broker link")

    def stop(self, timeout: float = 15) -> None:
        """Stop gracefully; kill whatever has not stopped within `timeout` seconds."""
        try:
            with eventlet.Timeout(timeout):
                self.runner.stop()
        except eventlet.Timeout:
            self.runner.kill()


ServicesFactory = Callable[..., RunningServices]


def start_services(
    service_classes: list[type],
    amqp_uri: str,
    workdir: Path,
    linked: bool = True,
    **settings: Any,
) -> RunningServices:
    """Start `service_classes` in one runner against `amqp_uri`; the caller stops it.

    Services connect to the broker in the background; unless `linked` is False this
    waits until all of them are connected and consuming.
    """
    values = {
        "amqp_uri": amqp_uri,
        "web_server_address": f"127.0.0.1:{free_port()}",
        "log_store_path": str(workdir / "log-store.sqlite3"),
        **settings,
    }
    resolved = Settings(**values)
    runner = ServiceRunner(resolved.to_config())
    for service_class in service_classes:
        runner.add_service(service_class)
    runner.start()
    services = RunningServices(runner, resolved)
    if linked:
        services.wait_until_linked()
    return services
