"""Events over the process's `AmqpLink`: a publisher the broker confirms, ``@event_handler``.

`ConfirmedEvents` publishes persistent, ``mandatory`` messages on a channel in confirm
mode and returns only when the broker has acked them, i.e. routed them to their durable
queues and taken responsibility for them. Confirms are streamed: many publishes are in
flight at once on the shared link, each waiting for its own ack, instead of one blocking
round trip per message on a pooled connection. A publish fails with `EventNotStored` when
the broker nacks it, returns it as unroutable, or does not confirm it within
``CONFIRM_TIMEOUT``; with `BrokerUnavailable` when there is no connection. Either way the
caller knows the event may not have been kept and must not report success.

``@event_handler`` keeps Nameko's naming, so it takes over the same durable queue
(``evt-<source>-<event type>--<service>.<method>``, bound to ``<source>.events``) that
Nameko's handler (and this publisher) declare. Every event is acked only when the handler
has returned; a handler that raises has its event acked too, unless it asks for
``requeue_on_error`` (Nameko's default is the same); a process that dies leaves its
unacked events to be delivered again. Only Nameko's "service pool" mode is offered: one
copy of each event per service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import amqp
from eventlet.event import Event
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider, Entrypoint, SharedExtension
from nameko.messaging import HeaderEncoder
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from amqp_client.link import AmqpLink
from amqp_client.messages import PERSISTENT, json_message
from amqp_client.session import LinkSession
from amqp_client.subscription import QueueSubscription
from messaging.errors import EventNotStored
from messaging.headers import context_data
from messaging.link import SharedAmqpLink, broker_errors, worker_pool_has_room
from messaging.observed import CONFIRM_DURATION, EVENTS_PUBLISHED, observed
from runtime.config import ContainerSettings

_log = logging.getLogger(__name__)

EVENTS_CONSUMED = Counter("events_consumed", "Events delivered to a handler.", ["handler"])
EVENTS_REDELIVERED = Counter(
    "events_redelivered", "Events delivered again (after a failure or a lost connection).",
    ["handler"],
)  # fmt: skip


@dataclass(frozen=True)
class EventRoute:
    """Where events of one type go: Nameko's ``<source>.events`` topic exchange, and the
    durable queues that must hold them. Publishers declare those queues before the first
    publish, so an event sent before its consumer has ever started is kept, not dropped."""

    source: str
    event_type: str
    durable_queues: tuple[str, ...]

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"


def handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The queue Nameko's ``@event_handler`` (service pool mode) consumes from."""
    return f"evt-{source}-{event_type}--{service}.{method}"


# Publishing.


class _Unconfirmed(Event):
    """A publish waiting for its confirm; `returned` once the broker has sent it back."""

    returned = False


class ConfirmSession(LinkSession):
    """The process's confirm-mode channel, and the publishes awaiting their confirms.

    `waiting` holds them by delivery tag, in the order the broker numbers them.
    """

    def __init__(self, link: AmqpLink, routes: Iterable[EventRoute]) -> None:
        super().__init__(link)
        self.routes = routes
        self._next_tag = 1
        self._by_message_id: dict[str, _Unconfirmed] = {}

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        channel = connection.channel()
        channel.confirm_select()
        for route in self.routes:
            # Arguments match Nameko's own declarations of these exchanges and queues.
            channel.exchange_declare(route.exchange, "topic", durable=True, auto_delete=False)
            for queue in route.durable_queues:
                channel.queue_declare(queue, durable=True, auto_delete=False)
                channel.queue_bind(queue, route.exchange, routing_key=route.event_type)
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._next_tag = 1  # delivery tags count publishes on the channel, from 1
        return channel

    def detach(self) -> None:
        super().detach()
        self._by_message_id.clear()

    def publish(
        self,
        route: EventRoute,
        message_id: str,
        payload: dict[str, Any],
        headers: dict[str, Any],
        timeout: float,
    ) -> None:
        """Publish one event and return once the broker has confirmed it."""
        name = f"{route.source}.{route.event_type}"
        with observed(
            name, SpanKind.PRODUCER, headers, EVENTS_PUBLISHED, CONFIRM_DURATION, "confirmed"
        ) as traced_headers:
            message = json_message(
                payload,
                delivery_mode=PERSISTENT,
                message_id=message_id,
                application_headers=traced_headers,
            )
            entry = self._by_message_id[message_id] = _Unconfirmed()

            def sent() -> None:  # under the link's write lock: tags follow the broker's order
                self.waiting[self._next_tag] = entry
                self._next_tag += 1

            not_confirmed = f"the broker did not confirm the event within {timeout:g}s"
            with broker_errors():
                self.publish_and_wait(
                    entry,
                    lambda: self.link.publish(
                        self.channel, message, route.exchange, route.event_type, on_sent=sent
                    ),
                    timeout,
                    partial(EventNotStored, not_confirmed, "timeout"),
                    lambda: self._by_message_id.pop(message_id, None),
                )

    def _settle(
        self, delivery_tag: int, multiple: bool, settle: Callable[[_Unconfirmed], None]
    ) -> None:
        waiting = self.waiting
        if multiple:
            while waiting and next(iter(waiting)) <= delivery_tag:
                settle(waiting.pop(next(iter(waiting))))
        elif delivery_tag in waiting:
            settle(waiting.pop(delivery_tag))

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        def settle(entry: _Unconfirmed) -> None:
            if entry.returned:
                entry.send_exception(EventNotStored("no queue is bound for the event", "returned"))
            else:
                entry.send(None)

        self._settle(delivery_tag, multiple, settle)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        def settle(entry: _Unconfirmed) -> None:
            entry.send_exception(EventNotStored("the broker refused to store the event", "nacked"))

        self._settle(delivery_tag, multiple, settle)

    def _on_return(
        self, exc: Exception, exchange: str, routing_key: str, message: amqp.Message
    ) -> None:
        # The broker sends basic.return before the ack of an unroutable message.
        entry = self._by_message_id.get(message.properties.get("message_id"))
        if entry is not None:
            entry.returned = True


class EventPublisher(SharedExtension):
    """The service's `ConfirmSession`, shared by all its `ConfirmedEvents` dependencies."""

    broker = SharedAmqpLink()

    def __init__(self) -> None:
        super().__init__()
        self.routes: set[EventRoute] = set()

    def setup(self) -> None:
        self.session = ConfirmSession(self.broker.link, self.routes)


class ConfirmedEvents(DependencyProvider, HeaderEncoder):
    """Injects ``dispatch(message_id, payload)`` for one `EventRoute`.

    The message carries the worker's context data as Nameko headers, so the handling
    service sees the same request id.
    """

    publisher = EventPublisher()
    settings = ContainerSettings()

    def __init__(self, route: EventRoute) -> None:
        self.route = route

    def setup(self) -> None:
        self.publisher.routes.add(self.route)

    def get_dependency(self, worker_ctx: Any) -> Callable[[str, dict[str, Any]], None]:
        headers = self.get_message_headers(worker_ctx)
        session, timeout = self.publisher.session, self.settings.values.confirm_timeout

        def dispatch(message_id: str, payload: dict[str, Any]) -> None:
            session.publish(self.route, message_id, payload, headers, timeout)

        return dispatch


# Handling.


class EventHandler(Entrypoint):
    """``@event_handler(source, event_type)``: calls the method with each event's payload."""

    broker = SharedAmqpLink()
    settings = ContainerSettings()
    telemetry_kind = ("event", SpanKind.CONSUMER)

    def __init__(
        self, source_service: str, event_type: str, requeue_on_error: bool = False, **kwargs: Any
    ) -> None:
        self.source_service = source_service
        self.event_type = event_type
        self.requeue_on_error = requeue_on_error
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.subscription = QueueSubscription(
            self.broker.link,
            queue=handler_queue(
                self.source_service, self.event_type, self.container.service_name, self.method_name
            ),
            exchange=f"{self.source_service}.events",
            routing_key=self.event_type,
            prefetch=self.settings.values.max_workers,
            on_message=self._handle,
            spawn=self.container.spawn_managed_thread,
            has_room=worker_pool_has_room(self.container),
        )

    def stop(self) -> None:
        self.subscription.cancel()

    def _handle(self, message: amqp.Message) -> None:
        EVENTS_CONSUMED.labels(self.method_name).inc()
        if message.delivery_info.get("redelivered"):
            EVENTS_REDELIVERED.labels(self.method_name).inc()
        try:
            payload = json.loads(message.body)
        except ValueError:
            _log.error("dropping an event that is not JSON from %s", self.subscription.queue)
            self.subscription.ack(message)
            return
        try:
            self.container.spawn_worker(
                self,
                (payload,),
                {},
                context_data=context_data(message),
                handle_result=partial(self._settle, message),
            )
        except ContainerBeingKilled:
            self.subscription.reject(message, requeue=True)

    def _settle(
        self, message: amqp.Message, worker_ctx: Any, result: Any, exc_info: Any
    ) -> tuple[Any, Any]:
        if exc_info is not None and self.requeue_on_error:
            self.subscription.reject(message, requeue=True)
        else:
            self.subscription.ack(message)
        return result, exc_info


event_handler = EventHandler.decorator
