"""``@rpc`` served over the process's `AmqpLink`: Nameko's wire protocol, less overhead.

Nameko's own ``@rpc`` consumes through kombu and answers each call with a publisher
taken from a pool, waiting for a broker confirm of the reply. Replies need no confirm:
a lost reply is a caller's timeout either way. This entrypoint speaks the same protocol
(any Nameko client, ``nameko shell`` included, calls it unchanged) over the link that
the service shares with everything else:

* one consumer on ``rpc-<service>`` with a prefetch of ``max_workers``, dispatching by
  routing key to the method;
* replies are transient, unconfirmed, and sent through the link's coalesced writes;
  to a reply queue bound to the RPC exchange (as Nameko replies), or through the
  default exchange for RabbitMQ's direct reply-to;
* the request is acked once its reply is written; a worker that cannot start
  (the service is being killed) puts the request back.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import partial
from typing import Any

import amqp
from nameko.constants import HEADER_PREFIX
from nameko.exceptions import (
    ContainerBeingKilled,
    MalformedRequest,
    MethodNotFound,
    UnserializableValueError,
    serialize,
)
from nameko.extensions import Entrypoint, ProviderCollector, SharedExtension
from nameko.rpc import get_rpc_exchange

from shared.amqp_link import SharedAmqpLink, json_message
from shared.config import Settings
from shared.errors import BrokerUnavailable
from shared.link_consumer import QueueSubscription, worker_pool_has_room
from shared.signatures import CheckedOncePerShape

_log = logging.getLogger(__name__)

TRANSIENT = 1
DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


class RpcQueue(SharedExtension, ProviderCollector):
    """The service's ``rpc-<service>`` queue, shared by all its ``@rpc`` methods."""

    link = SharedAmqpLink()

    def setup(self) -> None:
        service = self.container.service_name
        self.subscription = QueueSubscription(
            self.link.link,
            queue=f"rpc-{service}",
            exchange=get_rpc_exchange(self.container.config).name,
            routing_key=f"{service}.*",
            prefetch=Settings.from_config(self.container.config).max_workers,
            on_message=self._handle,
            spawn=self.container.spawn_managed_thread,
            has_room=worker_pool_has_room(self.container),
        )

    def unregister_provider(self, provider: Any) -> None:
        # The service is stopping: take no more calls, for any method, from now on.
        self.subscription.cancel()
        super().unregister_provider(provider)

    def _handle(self, message: amqp.Message) -> None:
        method = message.delivery_info["routing_key"].split(".", 1)[-1]
        provider = next((p for p in self._providers if p.method_name == method), None)
        try:
            if provider is None:
                raise MethodNotFound(method)
            body = json.loads(message.body)
            if not isinstance(body, dict) or "args" not in body or "kwargs" not in body:
                raise MalformedRequest("Message missing `args` or `kwargs`")
            provider.handle_message(message, body["args"], body["kwargs"])
        except ContainerBeingKilled:
            self.subscription.reject(message, requeue=True)
        except Exception:
            self.reply(message, None, sys.exc_info())

    def reply(self, message: amqp.Message, result: Any, exc_info: Any) -> tuple[Any, Any]:
        """Send the reply (if the caller asked for one), then ack the request."""
        reply_to = message.properties.get("reply_to")
        if reply_to:
            properties = {
                "correlation_id": message.properties.get("correlation_id"),
                "delivery_mode": TRANSIENT,
            }
            error = serialize(exc_info[1]) if exc_info is not None else None
            try:
                reply = json_message({"result": result, "error": error}, **properties)
            except (TypeError, ValueError):
                exc_info, result = sys.exc_info(), None
                error = serialize(UnserializableValueError(result))
                reply = json_message({"result": None, "error": error}, **properties)
            exchange = "" if reply_to.startswith(DIRECT_REPLY_TO) else self.subscription.exchange
            try:
                self.link.link.publish(
                    self.subscription.channel, reply, exchange, reply_to, mandatory=False
                )
            except BrokerUnavailable:
                _log.warning("could not reply: no broker connection; the call will time out")
        self.subscription.ack(message)
        return result, exc_info


def unpack_headers(message: amqp.Message) -> dict[str, Any]:
    """Nameko context data (request id, call id stack) from a message's headers."""
    headers = message.properties.get("application_headers") or {}
    prefix = f"{HEADER_PREFIX}."
    return {k[len(prefix) :]: v for k, v in headers.items() if k.startswith(prefix)}


class Rpc(CheckedOncePerShape, Entrypoint):
    """``@rpc``: a method other services (and ``nameko shell``) can call."""

    rpc_queue = RpcQueue()

    def setup(self) -> None:
        self.rpc_queue.register_provider(self)

    def stop(self) -> None:
        self.rpc_queue.unregister_provider(self)

    def handle_message(
        self, message: amqp.Message, args: list[Any], kwargs: dict[str, Any]
    ) -> None:
        self.check_signature(args, kwargs)
        self.container.spawn_worker(
            self,
            args,
            kwargs,
            context_data=unpack_headers(message),
            handle_result=partial(self._handle_result, message),
        )

    def _handle_result(
        self, message: amqp.Message, worker_ctx: Any, result: Any, exc_info: Any
    ) -> tuple[Any, Any]:
        return self.rpc_queue.reply(message, result, exc_info)


rpc = Rpc.decorator
