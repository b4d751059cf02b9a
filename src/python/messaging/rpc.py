"""RPC over the process's `AmqpLink` in Nameko's wire protocol (any Nameko client, ``nameko
shell`` included, calls an ``@rpc`` method here; any ``@rpc`` method answers `ServiceRpc`),
with less overhead than Nameko's own:

* ``@rpc``: one consumer on ``rpc-<service>`` with a prefetch of ``max_workers``,
  dispatching by routing key to the method. Replies are transient and unconfirmed (a
  lost reply is a caller's timeout either way), sent through the link's coalesced
  writes to a reply queue bound to the RPC exchange (as Nameko replies), or through the
  default exchange for RabbitMQ's direct reply-to. The request is acked once its reply
  is written; a worker that cannot start (the service is being killed) puts it back.
* `ServiceRpc` (Nameko's in-service ``RpcProxy`` waits forever, with a publisher per
  call): every call has a deadline, which its request carries as its TTL (a request
  nobody took in time expires, not runs late). Published ``mandatory``, a call to a
  service with no queue fails at once (`ServiceUnavailable`); past the deadline it is a
  `CallTimeout`, and a late reply is dropped; a lost connection fails every call in
  flight (`BrokerUnavailable`). Replies come to one exclusive queue per process, bound
  to the RPC exchange under a random routing key (where Nameko's responders send them).

JSON only. A stock Nameko service accepts its ``ACCEPT`` content types (by default its
``SERIALIZER``, JSON) and replies in the request's; another never reaches it (kombu will
not decode it). Here it gets a JSON error reply at once, so its caller fails fast.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from functools import partial
from typing import Any

import amqp
from eventlet.event import Event
from nameko.exceptions import (
    ContainerBeingKilled,
    MalformedRequest,
    MethodNotFound,
    UnserializableValueError,
    deserialize,
    serialize,
)
from nameko.extensions import (
    DependencyProvider,
    Entrypoint,
    ProviderCollector,
    SharedExtension,
)
from nameko.messaging import HeaderEncoder
from nameko.rpc import get_rpc_exchange
from opentelemetry.trace import SpanKind

from amqp_client.connect import LinkDown
from amqp_client.link import AmqpLink
from amqp_client.messages import TRANSIENT, OutgoingMessage, json_message
from amqp_client.session import LinkSession
from amqp_client.subscription import QueueSubscription
from messaging.errors import CallTimeout, ServiceUnavailable
from messaging.headers import context_data
from messaging.link import SharedAmqpLink, broker_errors, worker_pool_has_room
from messaging.observed import RPC_CALLS, RPC_DURATION, observed
from messaging.queues import rpc_queue_spec
from runtime.config import ContainerSettings
from runtime.signatures import CheckedOncePerShape

_log = logging.getLogger(__name__)

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"
Headers = dict[str, Any]
JSON = "application/json"

# The server side: ``@rpc``.


class RpcQueue(SharedExtension, ProviderCollector):
    """The service's ``rpc-<service>`` queue, shared by all its ``@rpc`` methods."""

    broker = SharedAmqpLink()
    settings = ContainerSettings()

    def setup(self) -> None:
        service = self.container.service_name
        exchange = get_rpc_exchange(self.container.config).name
        self.subscription = QueueSubscription(
            self.broker.link,
            rpc_queue_spec(service, exchange, self.settings.values),
            prefetch=self.settings.values.max_workers,
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
            content_type = message.properties.get("content_type", JSON)
            if content_type != JSON:
                raise MalformedRequest(f"this service accepts {JSON} only, got {content_type}")
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
            reply, result, exc_info = _reply_message(message, result, exc_info)
            exchange = "" if reply_to.startswith(DIRECT_REPLY_TO) else self.subscription.exchange
            try:
                self.subscription.link.publish(
                    self.subscription.channel, reply, exchange, reply_to, mandatory=False
                )
            except LinkDown:
                _log.warning("could not reply: no broker connection; the call will time out")
        self.subscription.ack(message)
        return result, exc_info


def _reply_message(
    request: amqp.Message, result: Any, exc_info: Any
) -> tuple[OutgoingMessage, Any, Any]:
    """The reply to `request`, and the result and error it reports.

    As Nameko's responder: a result that cannot be serialised is reported to the caller
    as `UnserializableValueError` (naming the value), and the result becomes ``None``.
    """
    properties = {"correlation_id": request.properties.get("correlation_id")}
    error = serialize(exc_info[1]) if exc_info is not None else None
    try:
        reply = json_message(
            {"result": result, "error": error}, delivery_mode=TRANSIENT, **properties
        )
    except (TypeError, ValueError):
        exc_info = sys.exc_info()
        error = serialize(UnserializableValueError(result))
        result = None
        reply = json_message(
            {"result": None, "error": error}, delivery_mode=TRANSIENT, **properties
        )
    return reply, result, exc_info


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
            context_data=context_data(message),
            handle_result=partial(self._handle_result, message),
        )

    def _handle_result(
        self, message: amqp.Message, worker_ctx: Any, result: Any, exc_info: Any
    ) -> tuple[Any, Any]:
        return self.rpc_queue.reply(message, result, exc_info)


rpc = Rpc.decorator

# The client side: `ServiceRpc`.


class RpcSession(LinkSession):
    """RPC calls over an `AmqpLink`: one reply queue, the calls waiting for replies."""

    def __init__(self, link: AmqpLink, exchange: str, caller: str) -> None:
        super().__init__(link)
        self.exchange = exchange
        self.reply_key = secrets.token_hex(16)
        self.reply_queue = f"rpc.reply-{caller}-{self.reply_key}"

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        channel = connection.channel()
        channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(self.reply_queue, exclusive=True, auto_delete=True)
        channel.queue_bind(self.reply_queue, self.exchange, routing_key=self.reply_key)
        channel.basic_consume(self.reply_queue, callback=self._on_reply, no_ack=True)
        channel.events["basic_return"].add(self._on_return)
        return channel

    def call(self, target: str, kwargs: dict[str, Any], headers: Headers, timeout: float) -> Any:
        """Call `target` (``"service.method"``) with `kwargs`; its result within `timeout` s."""
        with observed(
            target, SpanKind.CLIENT, headers, RPC_CALLS, RPC_DURATION, "ok"
        ) as traced_headers:
            correlation_id = secrets.token_hex(16)
            message = json_message(
                {"args": [], "kwargs": kwargs},
                delivery_mode=TRANSIENT,
                reply_to=self.reply_key,
                correlation_id=correlation_id,
                expiration=str(max(1, int(timeout * 1000))),
                application_headers=traced_headers,
            )
            waiter = self.waiting[correlation_id] = Event()
            with broker_errors():
                reply = self.publish_and_wait(
                    waiter,
                    lambda: self.link.publish(self.channel, message, self.exchange, target),
                    timeout,
                    partial(CallTimeout, f"{target} did not answer within {timeout:g}s"),
                    lambda: self.waiting.pop(correlation_id, None),
                )
            if reply.get("error"):
                raise deserialize(reply["error"])
            return reply.get("result")

    def _on_reply(self, message: amqp.Message) -> None:
        waiter = self.waiting.pop(message.properties.get("correlation_id"), None)
        if waiter is None:
            _log.debug("dropping a reply that came after its deadline")
            return
        try:
            waiter.send(json.loads(message.body))
        except ValueError:
            waiter.send_exception(ServiceUnavailable("the service sent a malformed reply"))

    def _on_return(
        self, exc: Exception, exchange: str, routing_key: str, message: amqp.Message
    ) -> None:
        waiter = self.waiting.pop(message.properties.get("correlation_id"), None)
        if waiter is not None:
            service = routing_key.split(".", 1)[0]
            waiter.send_exception(ServiceUnavailable(f"no {service} service is running"))


class RpcClient(SharedExtension):
    """The service's `RpcSession`, shared by all its `ServiceRpc` dependencies."""

    broker = SharedAmqpLink()

    def setup(self) -> None:
        exchange = get_rpc_exchange(self.container.config).name
        self.session = RpcSession(self.broker.link, exchange, self.container.service_name)


class ServiceProxy:
    """``proxy.method(**kwargs)`` calls the remote method with the configured deadline."""

    def __init__(
        self, session: RpcSession, service: str, headers: dict[str, Any], timeout: float
    ) -> None:
        self._session = session
        self._service = service
        self._headers = headers
        self._timeout = timeout

    def __getattr__(self, method: str) -> Any:
        def call(timeout: float | None = None, **kwargs: Any) -> Any:
            target = f"{self._service}.{method}"
            return self._session.call(target, kwargs, self._headers, timeout or self._timeout)

        return call


class ServiceRpc(DependencyProvider, HeaderEncoder):
    """Injects a proxy to another service: ``self.calc.sum(numbers=[1, 2])``.

    Calls carry the worker's context data (request id, call id stack) as Nameko
    headers, and fail after ``RPC_TIMEOUT`` seconds unless given ``timeout=``.
    """

    client = RpcClient()
    settings = ContainerSettings()

    def __init__(self, service: str) -> None:
        self.service = service

    def get_dependency(self, worker_ctx: Any) -> ServiceProxy:
        headers = self.get_message_headers(worker_ctx)
        timeout = self.settings.values.rpc_timeout
        return ServiceProxy(self.client.session, self.service, headers, timeout)
