"""Wire compatibility with stock Nameko 2.14 (from the lockfile) in each direction the
project talks: its RPC client to a stock ``@rpc`` service, a stock ``EventDispatcher`` to
its ``@event_handler``, and its confirmed publisher to a stock ``@event_handler``. (A
stock client calling the project's services: `test_rpc.py`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nameko.contextdata import ContextDataProvider
from nameko.events import EventDispatcher
from nameko.events import event_handler as stock_event_handler
from nameko.exceptions import RemoteError
from nameko.rpc import rpc as stock_rpc
from nameko.standalone.rpc import ClusterRpcProxy

from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from messaging.events import ConfirmedEvents, event_handler
from messaging.queues import EventRoute, handler_queue
from messaging.rpc import ServiceProxy, ServiceRpc, rpc
from runtime.request_id import RequestContext

received: list[tuple[str, Any, str | None]] = []  # (handler, payload, request id)


class StockRequestId(ContextDataProvider):
    """Stock Nameko's way to read a context key (here the project's request id)."""

    context_key = "request_id"


class StockEcho:
    """A stock Nameko service."""

    name = "stock_echo"
    request_id = StockRequestId()

    @stock_rpc
    def echo(self, value: Any) -> dict[str, Any]:
        return {"value": value, "request_id": self.request_id}

    @stock_rpc
    def fail(self) -> None:
        raise ValueError("stock failure")


class ProjectCaller:
    """A project service calling the stock one through `ServiceRpc`."""

    name = "project_caller"
    stock: ServiceProxy = ServiceRpc("stock_echo")

    @rpc
    def relay(self, value: Any) -> Any:
        return self.stock.echo(value=value)

    @rpc
    def relay_failure(self) -> str:
        try:
            self.stock.fail()
        except RemoteError as exc:
            return f"{exc.exc_type}: {exc.value}"
        return "no error"


def test_the_project_rpc_client_calls_a_stock_rpc_service(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    services = start_services([StockEcho, ProjectCaller], amqp_uri, tmp_path)
    cleanup(services.stop)
    context = {"request_id": "interop-rpc"}
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10, context_data=context) as proxy:
        assert proxy.project_caller.relay([1, "two", {"3": None}]) == {
            "value": [1, "two", {"3": None}],
            "request_id": "interop-rpc",
        }
        assert proxy.project_caller.relay_failure() == "ValueError: stock failure"


class StockSource:
    """A stock Nameko service that dispatches an event."""

    name = "stock_source"
    dispatch = EventDispatcher()

    @stock_rpc
    def emit(self, payload: Any) -> None:
        self.dispatch("thing_happened", payload)


class ProjectSink:
    """A project service handling the stock service's event."""

    name = "project_sink"
    request_id: str | None = RequestContext()

    @event_handler("stock_source", "thing_happened")
    def on_thing(self, payload: Any) -> None:
        received.append(("project_sink", payload, self.request_id))


def test_a_stock_event_dispatcher_feeds_the_project_event_handler(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    received.clear()
    # The sink first: a stock dispatcher drops an event that no queue is bound for yet.
    sink = start_services([ProjectSink], amqp_uri, tmp_path)
    cleanup(sink.stop)
    source = start_services([StockSource], amqp_uri, tmp_path)
    cleanup(source.stop)
    context = {"request_id": "interop-stock-event"}
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10, context_data=context) as proxy:
        proxy.stock_source.emit({"n": 1})
    wait_for(lambda: received, 10, "the project handler to get the stock event")
    assert received == [("project_sink", {"n": 1}, "interop-stock-event")]


PROJECT_THING = EventRoute(
    source="project_source",
    event_type="thing_happened",
    durable_queues=(handler_queue("project_source", "thing_happened", "stock_sink", "on_thing"),),
)


class ProjectSource:
    """A project service publishing with confirms."""

    name = "project_source"
    dispatch: Any = ConfirmedEvents(PROJECT_THING)

    @rpc
    def emit(self, event_id: str, payload: Any) -> None:
        self.dispatch(event_id, payload)


class StockSink:
    """A stock Nameko service handling the project's event."""

    name = "stock_sink"
    request_id = StockRequestId()

    @stock_event_handler("project_source", "thing_happened")
    def on_thing(self, payload: Any) -> None:
        received.append(("stock_sink", payload, self.request_id))


def test_the_project_confirmed_publisher_feeds_a_stock_event_handler(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    received.clear()
    # The publisher first: it declares the stock handler's durable queue, so an event sent
    # before the handler has ever started is kept for it (and the queue's arguments must
    # be the ones stock Nameko declares, or the handler could not start on it).
    source = start_services([ProjectSource], amqp_uri, tmp_path)
    cleanup(source.stop)
    context = {"request_id": "interop-project-event"}
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10, context_data=context) as proxy:
        proxy.project_source.emit("event-1", {"n": 2})
    sink = start_services([StockSink], amqp_uri, tmp_path)
    cleanup(sink.stop)
    wait_for(lambda: received, 10, "the stock handler to get the project's event")
    assert received == [("stock_sink", {"n": 2}, "interop-project-event")]
