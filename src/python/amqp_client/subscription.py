"""Consuming a queue over the process's `AmqpLink`, with acks after the work is done.

A `QueueSubscription` declares its durable queue, bound to a durable topic exchange, on
every fresh connection (the same declarations as Nameko's own consumers, so either can
serve the queue), subscribes with a prefetch equal to the worker pool, and hands each
message to a callback: right away when the service's worker pool has room, else on a new
green thread (the link's reader must never wait on a full worker pool). The callback's
owner acks or rejects the message when its work is done, through the link's buffered
writes. After a reconnect, messages of the old connection are not acked: the broker has
already put them back in the queue. Once the subscription is cancelled, a message
delivered before the cancel reached the broker goes back to the queue for another
consumer, without reaching the callback.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Callable

import amqp
from nameko.containers import ServiceContainer

from shared.amqp_frames import ack_frame, reject_frame
from shared.amqp_link import AmqpLink
from shared.errors import BrokerUnavailable

_log = logging.getLogger(__name__)


def worker_pool_has_room(container: ServiceContainer) -> Callable[[], bool]:
    """Whether ``container.spawn_worker`` would start a worker now, not wait for one.

    Nameko keeps its worker pool private; asking it spares a green thread per message
    (and Python 3.11 maps fresh memory for every new green thread).
    """
    pool = container._worker_pool
    return lambda: bool(pool.free() > 0)


class QueueSubscription:
    """One queue consumed on the link (a `LinkSession`)."""

    def __init__(
        self,
        link: AmqpLink,
        queue: str,
        exchange: str,
        routing_key: str,
        prefetch: int,
        on_message: Callable[[amqp.Message], None],
        spawn: Callable[[Callable[[], None]], object],
        has_room: Callable[[], bool] = lambda: False,
    ) -> None:
        self.link = link
        self.queue = queue
        self.exchange = exchange
        self.routing_key = routing_key
        self._prefetch = prefetch
        self._on_message = on_message
        self._spawn = spawn
        self._has_room = has_room
        self._channel: amqp.Channel | None = None
        self._consumer_tag: str | None = None
        self.cancelled = False
        link.sessions.append(self)

    def attach(self, connection: amqp.Connection) -> None:
        channel = connection.channel()
        channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(self.queue, durable=True, auto_delete=False)
        channel.queue_bind(self.queue, self.exchange, routing_key=self.routing_key)
        if self.cancelled:
            return
        channel.basic_qos(0, self._prefetch, False)
        self._consumer_tag = channel.basic_consume(self.queue, callback=self._deliver)
        self._channel = channel

    @property
    def channel(self) -> amqp.Channel | None:
        """The channel messages are consumed on now (None while disconnected)."""
        return self._channel

    def _deliver(self, message: amqp.Message) -> None:
        if self._has_room():
            self._dispatch(message)
        else:
            self._spawn(partial(self._dispatch, message))

    def _dispatch(self, message: amqp.Message) -> None:
        if self.cancelled:
            self.reject(message, requeue=True)
        else:
            self._on_message(message)

    def detach(self) -> None:
        self._channel = None
        self._consumer_tag = None

    def ack(self, message: amqp.Message) -> None:
        self._settle(message, lambda channel_id: ack_frame(channel_id, message.delivery_tag))

    def reject(self, message: amqp.Message, requeue: bool) -> None:
        self._settle(
            message, lambda channel_id: reject_frame(channel_id, message.delivery_tag, requeue)
        )

    def cancel(self) -> None:
        """Stop taking messages; those already taken are still settled normally."""
        self.cancelled = True
        channel, tag = self._channel, self._consumer_tag
        if channel is not None and tag is not None:
            try:
                with self.link.writing():
                    channel.basic_cancel(tag, nowait=True)
            except BrokerUnavailable:
                pass  # no connection, no consumer left to cancel

    def _settle(self, message: amqp.Message, frame: Callable[[int], bytes]) -> None:
        channel = self._channel
        if channel is None or message.channel is not channel:
            _log.debug("not settling a message of an earlier connection: it was requeued")
            return
        try:
            self.link.send(channel, frame(channel.channel_id))
        except BrokerUnavailable:
            pass  # the broker requeues what was not acked on the lost connection
