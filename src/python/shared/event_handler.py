"""``@event_handler`` served over the process's `AmqpLink`, acked after the handler.

Nameko's handler consumes through kombu; this one uses the link the service already has
and keeps Nameko's naming, so it takes over the same durable queue
(``evt-<source>-<event type>--<service>.<method>``, bound to ``<source>.events``) that
publishers declare. Every event is acked only when the handler has returned: a handler
that raises puts its event back in the queue (``requeue_on_error``, the default), and a
process that dies leaves its unacked events to be delivered again.

Only Nameko's "service pool" mode is offered: one copy of each event per service.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

import amqp
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint

from shared.amqp_link import SharedAmqpLink
from shared.config import Settings
from shared.events import handler_queue
from shared.link_consumer import QueueSubscription, worker_pool_has_room
from shared.rpc_server import unpack_headers

_log = logging.getLogger(__name__)


class EventHandler(Entrypoint):
    """Calls the decorated method with each event's payload."""

    link = SharedAmqpLink()

    def __init__(
        self, source_service: str, event_type: str, requeue_on_error: bool = True, **kwargs: Any
    ) -> None:
        self.source_service = source_service
        self.event_type = event_type
        self.requeue_on_error = requeue_on_error
        super().__init__(**kwargs)

    def setup(self) -> None:
        self.subscription = QueueSubscription(
            self.link.link,
            queue=handler_queue(
                self.source_service, self.event_type, self.container.service_name, self.method_name
            ),
            exchange=f"{self.source_service}.events",
            routing_key=self.event_type,
            prefetch=Settings.from_config(self.container.config).max_workers,
            on_message=self._handle,
            spawn=self.container.spawn_managed_thread,
            has_room=worker_pool_has_room(self.container),
        )

    def stop(self) -> None:
        self.subscription.cancel()

    def _handle(self, message: amqp.Message) -> None:
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
                context_data=unpack_headers(message),
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
