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
unacked events to be delivered again. With ``requeue_on_error``, a handler that raises
`RetryLater` keeps its event instead, unacked, and runs again on it after a backoff.
Only Nameko's "service pool" mode is offered: one copy of each event per service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

import amqp
import eventlet
from eventlet.event import Event
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider, Entrypoint, SharedExtension
from nameko.messaging import HeaderEncoder
from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from amqp_client.link import AmqpLink
from amqp_client.messages import PERSISTENT, json_message
from amqp_client.session import Confirms, LinkSession
from amqp_client.subscription import QueueSubscription
from messaging.errors import EventNotStored, RetryLater, Unprocessable
from messaging.headers import context_data
from messaging.link import SharedAmqpLink, broker_errors, worker_pool_has_room
from messaging.observed import CONFIRM_DURATION, EVENTS_PUBLISHED, observed
from messaging.queues import EventRoute, event_queue_spec, handler_queue
from runtime.config import ContainerSettings, Settings
from runtime.metrics import labelled

_log = logging.getLogger(__name__)

EVENTS_CONSUMED = Counter("events_consumed", "Events delivered to a handler.", ["handler"])
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered",
    "Events a handler rejected for good (to dead-letters, where its queue has them).",
    ["handler"],
)
RETRY_FIRST, RETRY_CAP = 0.1, 10.0  # seconds before a failed event is redelivered
EVENTS_REDELIVERED = Counter(
    "events_redelivered", "Events delivered again (after a failure or a lost connection).",
    ["handler"],
)  # fmt: skip


# Publishing.


class _Unconfirmed(Event):
    """A publish waiting for its confirm; `returned` once the broker has sent it back."""

    returned = False


class ConfirmSession(LinkSession):
    """The process's confirm-mode channel, and the publishes awaiting their confirms
    (`waiting`, by message id; `confirms`, by the broker's delivery tag)."""

    def __init__(self, link: AmqpLink, routes: Iterable[EventRoute], settings: Settings) -> None:
        super().__init__(link)
        self.routes = routes
        self.settings = settings
        self.confirms: Confirms[_Unconfirmed] = Confirms()

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        channel = connection.channel()
        channel.confirm_select()
        for route in self.routes:
            for spec in route.queue_specs(self.settings):
                spec.declare(channel)
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self.confirms.reset()
        return channel

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
            entry = self.waiting[message_id] = _Unconfirmed()
            not_confirmed = f"the broker did not confirm the event within {timeout:g}s"
            with broker_errors():
                self.publish_and_wait(
                    entry,
                    lambda: self.link.publish(
                        self.channel,
                        message,
                        route.exchange,
                        route.event_type,
                        on_sent=lambda: self.confirms.sent(entry),
                    ),
                    timeout,
                    partial(EventNotStored, not_confirmed, "timeout"),
                    lambda: self.waiting.pop(message_id, None),
                )

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for entry in self.confirms.settle(delivery_tag, multiple):
            if entry.returned:
                entry.send_exception(EventNotStored("no queue is bound for the event", "returned"))
            else:
                entry.send(None)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for entry in self.confirms.settle(delivery_tag, multiple):
            entry.send_exception(EventNotStored("the broker refused to store the event", "nacked"))

    def _on_return(
        self, exc: Exception, exchange: str, routing_key: str, message: amqp.Message
    ) -> None:
        # The broker sends basic.return before the ack of an unroutable message.
        entry = self.waiting.get(message.properties.get("message_id"))
        if entry is not None:
            entry.returned = True


class EventPublisher(SharedExtension):
    """The service's `ConfirmSession`, shared by all its `ConfirmedEvents` dependencies."""

    broker = SharedAmqpLink()
    settings = ContainerSettings()

    def __init__(self) -> None:
        super().__init__()
        self.routes: set[EventRoute] = set()

    def setup(self) -> None:
        self.session = ConfirmSession(self.broker.link, self.routes, self.settings.values)


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
        self,
        source_service: str,
        event_type: str,
        requeue_on_error: bool = False,
        dead_letters: bool = False,
        **kwargs: Any,
    ) -> None:
        self.source_service = source_service
        self.event_type = event_type
        self.requeue_on_error = requeue_on_error
        self.dead_letters = dead_letters
        super().__init__(**kwargs)

    def setup(self) -> None:
        service, settings = self.container.service_name, self.settings.values
        queue = handler_queue(self.source_service, self.event_type, service, self.method_name)
        spec = event_queue_spec(
            queue, self.source_service, self.event_type, settings, self.dead_letters
        )
        self.subscription = QueueSubscription(
            self.broker.link,
            spec,
            prefetch=settings.max_workers,
            on_message=self._handle,
            spawn=self.container.spawn_managed_thread,
            has_room=worker_pool_has_room(self.container),
        )

    def stop(self) -> None:
        self.subscription.cancel()

    def _handle(self, message: amqp.Message) -> None:
        labelled(EVENTS_CONSUMED, self.method_name).inc()
        if message.delivery_info.get("redelivered"):
            labelled(EVENTS_REDELIVERED, self.method_name).inc()
        try:
            payload = json.loads(message.body)
        except ValueError:
            self._dead_letter(message, "it is not JSON")
            return
        self._run(message, payload, attempt=0)

    def _run(self, message: amqp.Message, payload: Any, attempt: int) -> None:
        try:
            self.container.spawn_worker(
                self,
                (payload,),
                {},
                context_data=context_data(message),
                handle_result=partial(
                    self._settle, message, partial(self._retry, message, payload, attempt)
                ),
            )
        except ContainerBeingKilled:
            self.subscription.reject(message, requeue=True)

    def _settle(
        self, message: amqp.Message, retry: Callable[[], None], _: Any, result: Any, exc_info: Any
    ) -> tuple[Any, Any]:
        if exc_info is None or not (self.requeue_on_error or self.dead_letters):
            self.subscription.ack(message)
        elif isinstance(exc_info[1], Unprocessable):
            self._dead_letter(message, str(exc_info[1]))
        elif self.requeue_on_error and isinstance(exc_info[1], RetryLater):
            # Held, not requeued (its delivery count stays), and no worker waits with it.
            self.container.spawn_managed_thread(retry)
        elif self.requeue_on_error:
            # Back off before the broker redelivers it: a failing store must not become a
            # hot loop. On quorum queues the broker counts deliveries, and past the limit
            # dead-letters the event itself.
            eventlet.sleep(retry_delay(message))
            self.subscription.reject(message, requeue=True)
        else:
            self._dead_letter(message, f"{type(exc_info[1]).__name__}: {exc_info[1]}")
        return result, exc_info

    def _retry(self, message: amqp.Message, payload: Any, attempt: int) -> None:
        eventlet.sleep(backoff(attempt))
        if self.subscription.cancelled:
            self.subscription.reject(message, requeue=True)
        else:
            self._run(message, payload, attempt + 1)

    def _dead_letter(self, message: amqp.Message, why: str) -> None:
        """Reject `message` for good: to ``dead-letters`` if its queue has them."""
        labelled(EVENTS_DEAD_LETTERED, self.method_name).inc()
        where = "dead-lettering" if self.dead_letters else "dropping"
        _log.error("%s an event from %s: %s", where, self.subscription.queue, why)
        self.subscription.reject(message, requeue=False)


def retry_delay(message: amqp.Message) -> float:
    """Seconds to wait before an event that failed goes back to its queue: doubling with
    each delivery (quorum queues count them in ``x-delivery-count``), up to a cap."""
    headers = message.properties.get("application_headers") or {}
    redelivered = 1 if message.delivery_info.get("redelivered") else 0
    return backoff(int(headers.get("x-delivery-count", redelivered)))


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failed attempts: doubling, up to a cap."""
    return float(min(RETRY_CAP, RETRY_FIRST * 2 ** min(failures, 16)))


event_handler = EventHandler.decorator
