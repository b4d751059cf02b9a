"""Publishing events the broker has confirmed as stored.

`ConfirmedEvents` publishes persistent, ``mandatory`` messages on a channel in
confirm mode and returns only when the broker has acked them, i.e. routed them to
their durable queues and taken responsibility for them. Confirms are streamed: many
publishes are in flight at once on the shared `AmqpLink`, each waiting for its own
ack, instead of one blocking round trip per message on a pooled connection.

A publish fails with `EventNotStored` when the broker nacks it, returns it as
unroutable, or does not confirm it within ``CONFIRM_TIMEOUT``; with
`BrokerUnavailable` when there is no connection. Either way the caller knows the
event may not have been kept and must not report success.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Any, Callable

import amqp
from eventlet.event import Event
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.messaging import HeaderEncoder

from shared.amqp_link import SharedAmqpLink, deadline, json_message
from shared.config import Settings
from shared.errors import BrokerUnavailable, EventNotStored
from shared.events import EventRoute

PERSISTENT = 2


class _Unconfirmed:
    __slots__ = ("waiter", "returned")

    def __init__(self) -> None:
        self.waiter = Event()
        self.returned = False


class EventPublisher(SharedExtension):
    """The process's confirm-mode channel and the publishes awaiting their confirms."""

    link = SharedAmqpLink()

    def __init__(self) -> None:
        super().__init__()
        self.routes: set[EventRoute] = set()
        self._channel: amqp.Channel | None = None
        self._next_tag = 1
        self._unconfirmed: OrderedDict[int, _Unconfirmed] = OrderedDict()
        self._by_message_id: dict[str, _Unconfirmed] = {}

    def setup(self) -> None:
        self.link.link.sessions.append(self)

    def add_route(self, route: EventRoute) -> None:
        self.routes.add(route)

    @property
    def in_flight(self) -> int:
        """Publishes waiting for a confirm now (zero when idle: nothing leaks)."""
        return len(self._unconfirmed)

    def attach(self, connection: amqp.Connection) -> None:
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
        self._next_tag = 1
        self._channel = channel

    def detach(self) -> None:
        self._channel = None
        unconfirmed, self._unconfirmed = self._unconfirmed, OrderedDict()
        self._by_message_id.clear()
        for entry in unconfirmed.values():
            entry.waiter.send_exception(
                BrokerUnavailable("lost the broker connection before the event was confirmed")
            )

    def publish(
        self,
        route: EventRoute,
        message_id: str,
        payload: dict[str, Any],
        headers: dict[str, Any],
        timeout: float,
    ) -> None:
        """Publish one event and return once the broker has confirmed it."""
        message = json_message(
            payload,
            delivery_mode=PERSISTENT,
            message_id=message_id,
            application_headers=headers,
        )
        entry = _Unconfirmed()

        def sent() -> None:
            # Delivery tags count publishes on the channel, starting at 1.
            self._unconfirmed[self._next_tag] = entry
            self._next_tag += 1

        not_confirmed = partial(
            EventNotStored, f"the broker did not confirm the event within {timeout:g}s"
        )
        self._by_message_id[message_id] = entry
        try:
            with deadline(timeout, not_confirmed):
                self.link.link.publish(
                    self._channel, message, route.exchange, route.event_type, on_sent=sent
                )
                entry.waiter.wait()
        finally:
            self._by_message_id.pop(message_id, None)

    def _settle(
        self, delivery_tag: int, multiple: bool, settle: Callable[[_Unconfirmed], None]
    ) -> None:
        if multiple:
            while self._unconfirmed and next(iter(self._unconfirmed)) <= delivery_tag:
                settle(self._unconfirmed.popitem(last=False)[1])
        elif delivery_tag in self._unconfirmed:
            settle(self._unconfirmed.pop(delivery_tag))

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        def settle(entry: _Unconfirmed) -> None:
            if entry.returned:
                entry.waiter.send_exception(EventNotStored("no queue is bound for the event"))
            else:
                entry.waiter.send(None)

        self._settle(delivery_tag, multiple, settle)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        def settle(entry: _Unconfirmed) -> None:
            entry.waiter.send_exception(EventNotStored("the broker refused to store the event"))

        self._settle(delivery_tag, multiple, settle)

    def _on_return(
        self, exc: Exception, exchange: str, routing_key: str, message: amqp.Message
    ) -> None:
        # The broker sends basic.return before the ack of an unroutable message.
        entry = self._by_message_id.get(message.properties.get("message_id"))
        if entry is not None:
            entry.returned = True


class ConfirmedEvents(DependencyProvider, HeaderEncoder):
    """Injects ``dispatch(message_id, payload)`` for one `EventRoute`.

    The message carries the worker's context data as Nameko headers, so the
    handling service sees the same request id.
    """

    publisher = EventPublisher()

    def __init__(self, route: EventRoute) -> None:
        self.route = route

    def setup(self) -> None:
        self.timeout = Settings.from_config(self.container.config).confirm_timeout
        self.publisher.add_route(self.route)

    def get_dependency(self, worker_ctx: Any) -> Callable[[str, dict[str, Any]], None]:
        headers = self.get_message_headers(worker_ctx)

        def dispatch(message_id: str, payload: dict[str, Any]) -> None:
            self.publisher.publish(self.route, message_id, payload, headers, self.timeout)

        return dispatch
