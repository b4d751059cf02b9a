"""Fixtures for tests that cross process boundaries: a real broker, running services."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from devstack.postgres_server import PrivatePostgres
from devstack.processes import PackagedStack
from devstack.rabbit_node import NoRabbitServer
from harness.cleanup import Cleanup
from harness.inprocess import RunningServices, ServicesFactory, start_services
from harness.packaged import StackFactory
from harness.postgres import LogDatabase, new_database, provide_postgres
from harness.prerequisites import missing
from harness.rabbit import Broker, BrokerUnavailableForTests, TestNode, provide_broker


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """This test process's broker; skips (fails, in CI) where none can be had."""
    with contextlib.ExitStack() as stack:
        try:
            found = stack.enter_context(provide_broker())
        except BrokerUnavailableForTests as exc:
            missing(str(exc))
        yield found


@pytest.fixture
def private_node() -> Iterator[TestNode]:
    """A RabbitMQ node of the test's own, not started yet: for stopping and restarting."""
    try:
        node = TestNode()
    except NoRabbitServer as exc:
        missing(str(exc))
    yield node
    node.close()


@pytest.fixture
def amqp_uri(broker: Broker) -> str:
    """A virtual host of the broker that no other test uses."""
    return broker.vhost_uri()


@pytest.fixture
def cleanup() -> Iterator[Cleanup]:
    """Register teardown callbacks; they run last-in first-out, also on failure."""
    callbacks: list[Callable[[], object]] = []
    yield callbacks.append
    errors = []
    for callback in reversed(callbacks):
        try:
            callback()
        except Exception as exc:  # keep tearing down; report afterwards
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def stack_factory(tmp_path: Path, cleanup: Cleanup) -> StackFactory:
    """``stack_factory(amqp_uri, SETTING="value", ...)``: the service PEXes (packaged by
    the test's ``runtime_package_dependencies``) as processes, stopped at teardown;
    `default_metrics_ports` as `PackagedStack` takes it."""

    def make(
        amqp_uri: str, *, default_metrics_ports: bool = False, **settings: str
    ) -> PackagedStack:
        stack = PackagedStack(Path.cwd(), amqp_uri, tmp_path, settings, default_metrics_ports)
        cleanup(stack.stop_all)
        return stack

    return make


@pytest.fixture
def packaged_stack(amqp_uri: str, stack_factory: StackFactory) -> PackagedStack:
    """The service PEXes on this test's virtual host, not started yet."""
    return stack_factory(amqp_uri, RPC_TIMEOUT="3")


@pytest.fixture(scope="module")
def module_services(
    broker: Broker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServicesFactory]:
    """``module_services(ServiceClass, ..., setting=value)``: services in this test process,
    on a virtual host of their own, shared by the module's tests and stopped after them."""
    started: list[RunningServices] = []

    def start(*service_classes: type, **settings: Any) -> RunningServices:
        workdir = tmp_path_factory.mktemp("services")
        services = start_services(list(service_classes), broker.vhost_uri(), workdir, **settings)
        started.append(services)
        return services

    yield start
    for services in reversed(started):
        services.stop()


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the module's own, started; skips (fails, in CI) without one."""
    with provide_postgres() as server:
        yield server


@pytest.fixture
def log_database(postgres: PrivatePostgres) -> LogDatabase:
    """An empty database of the test's own on the module's server."""
    return new_database(postgres)
