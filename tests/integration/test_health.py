"""The health probe each image's HEALTHCHECK runs (`/app/pex healthcheck`)."""

from __future__ import annotations

import time
from pathlib import Path

from calc.service import CalcService
from devstack.waiting import free_port
from gateway.service import GatewayService
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from harness.rabbit import uri_with_port
from launch.health import check
from log.service import LogService
from runtime.config import Settings


def test_running_services_are_healthy(amqp_uri: str, tmp_path: Path, cleanup: Cleanup) -> None:
    services = start_services([GatewayService, CalcService, LogService], amqp_uri, tmp_path)
    cleanup(services.stop)
    services.wait_until_ready()
    for service_cls in (CalcService, LogService, GatewayService):
        assert check(service_cls, services.settings), service_cls.name


def test_a_service_that_is_not_running_is_unhealthy_within_the_probe_timeout(
    amqp_uri: str,
) -> None:
    settings = Settings(amqp_uri=amqp_uri, web_server_address=f"127.0.0.1:{free_port()}")
    for service_cls in (CalcService, GatewayService):
        started = time.monotonic()
        assert not check(service_cls, settings)
        assert time.monotonic() - started < 5


def test_an_unreachable_broker_is_unhealthy() -> None:
    nowhere = uri_with_port("amqp://guest:guest@127.0.0.1/", free_port())
    assert not check(CalcService, Settings(amqp_uri=nowhere))
