"""RPC calls to other Nameko services, each with a deadline.

Nameko's in-service ``RpcProxy`` waits for a reply forever and sets up a publisher
per call. `ServiceRpc` speaks the same wire protocol (any ``@rpc`` method answers it)
over the process's shared `AmqpLink`, and bounds every call in time:

* the request carries a per-message TTL equal to the deadline, so a request that
  nobody consumed in time expires in the queue instead of running late;
* it is published ``mandatory``: when no queue is bound for the service the broker
  returns it at once and the call fails with `ServiceUnavailable`;
* the caller waits at most the deadline, then gets `CallTimeout`; a late reply is
  dropped, and nothing is left behind for it;
* when the connection drops, every call in flight fails with `BrokerUnavailable`.

Replies come to one exclusive queue per process, bound to the RPC exchange under a
random routing key (where Nameko's responders send them).
"""

from __future__ import annotations

import json
import logging
import secrets
from functools import partial
from typing import Any

import amqp
from eventlet.event import Event
from nameko.exceptions import deserialize
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.messaging import HeaderEncoder
from nameko.rpc import get_rpc_exchange

from shared.amqp_link import AmqpLink, SharedAmqpLink, deadline, json_message
from shared.config import Settings
from shared.errors import BrokerUnavailable, CallTimeout, ServiceUnavailable

_log = logging.getLogger(__name__)

TRANSIENT = 1


class RpcSession:
    """RPC calls over an `AmqpLink`: one reply queue, the calls in flight."""

    def __init__(self, link: AmqpLink, exchange: str, caller: str) -> None:
        self.link = link
        self.exchange = exchange
        self.reply_key = secrets.token_hex(16)
        self.reply_queue = f"rpc.reply-{caller}-{self.reply_key}"
        self._pending: dict[str, Event] = {}
        self._channel: amqp.Channel | None = None
        link.sessions.append(self)

    @property
    def in_flight(self) -> int:
        """Calls waiting for a reply now (zero when idle: nothing leaks)."""
        return len(self._pending)

    def attach(self, connection: amqp.Connection) -> None:
        channel = connection.channel()
        channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(self.reply_queue, exclusive=True, auto_delete=True)
        channel.queue_bind(self.reply_queue, self.exchange, routing_key=self.reply_key)
        channel.basic_consume(self.reply_queue, callback=self._on_reply, no_ack=True)
        channel.events["basic_return"].add(self._on_return)
        self._channel = channel

    def detach(self) -> None:
        self._channel = None
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.send_exception(BrokerUnavailable("lost the connection to the message broker"))

    def call(
        self,
        service: str,
        method: str,
        kwargs: dict[str, Any],
        headers: dict[str, Any],
        timeout: float,
    ) -> Any:
        """Call ``service.method(**kwargs)`` and return its result within `timeout` seconds."""
        correlation_id = secrets.token_hex(16)
        message = json_message(
            {"args": [], "kwargs": kwargs},
            delivery_mode=TRANSIENT,
            reply_to=self.reply_key,
            correlation_id=correlation_id,
            expiration=str(max(1, int(timeout * 1000))),
            application_headers=headers,
        )
        waiter = self._pending[correlation_id] = Event()
        timed_out = partial(CallTimeout, f"{service}.{method} did not answer within {timeout:g}s")
        try:
            with deadline(timeout, timed_out):
                self.link.publish(self._channel, message, self.exchange, f"{service}.{method}")
                reply = waiter.wait()
        finally:
            self._pending.pop(correlation_id, None)
        if reply.get("error"):
            raise deserialize(reply["error"])
        return reply.get("result")

    def _on_reply(self, message: amqp.Message) -> None:
        waiter = self._pending.pop(message.properties.get("correlation_id"), None)
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
        waiter = self._pending.pop(message.properties.get("correlation_id"), None)
        if waiter is not None:
            service = routing_key.split(".", 1)[0]
            waiter.send_exception(ServiceUnavailable(f"no {service} service is running"))


class RpcClient(SharedExtension):
    """The service's `RpcSession`, shared by all its `ServiceRpc` dependencies."""

    link = SharedAmqpLink()

    def setup(self) -> None:
        exchange = get_rpc_exchange(self.container.config).name
        self.session = RpcSession(self.link.link, exchange, self.container.service_name)


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
            return self._session.call(
                self._service, method, kwargs, self._headers, timeout or self._timeout
            )

        return call


class ServiceRpc(DependencyProvider, HeaderEncoder):
    """Injects a proxy to another service: ``self.calc.sum(numbers=[1, 2])``.

    Calls carry the worker's context data (request id, call id stack) as Nameko
    headers, and fail after ``RPC_TIMEOUT`` seconds unless given ``timeout=``.
    """

    client = RpcClient()

    def __init__(self, service: str) -> None:
        self.service = service

    def setup(self) -> None:
        self.timeout = Settings.from_config(self.container.config).rpc_timeout

    def get_dependency(self, worker_ctx: Any) -> ServiceProxy:
        headers = self.get_message_headers(worker_ctx)
        return ServiceProxy(self.client.session, self.service, headers, self.timeout)
