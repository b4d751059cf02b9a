"""Consuming a queue over the process's `AmqpLink`, with acks after the work is done.

A `QueueSubscription` declares its durable queue (a `QueueSpec`: bound to a durable topic
exchange, as Nameko's own consumers declare theirs, so either can serve a queue declared
without extra arguments) on every fresh connection, subscribes with a prefetch equal to
the worker pool, and hands each message to a callback: right away when the service's
worker pool has room, else on a new green thread (the link's reader must never wait on
a full worker pool). The callback's owner acks or rejects the message when its work is
done, through the link's buffered writes. After a reconnect, messages of the old
connection are not acked: the broker has already put them back in the queue. Once the
subscription is cancelled, a message delivered before the cancel reached the broker goes
back to the queue for another consumer, without reaching the callback.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Callable

import amqp

from amqp_client.connect import LinkDown
from amqp_client.frames import ack_frame, reject_frame
from amqp_client.link import AmqpLink
from amqp_client.queues import QueueSpec
from amqp_client.session import LinkSession

_log = logging.getLogger(__name__)


class QueueSubscription(LinkSession):
    """One queue consumed on the link."""

    def __init__(
        self,
        link: AmqpLink,
        spec: QueueSpec,
        prefetch: int,
        on_message: Callable[[amqp.Message], None],
        spawn: Callable[[Callable[[], None]], object],
        has_room: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(link)
        self.spec = spec
        self.queue = spec.name
        self.exchange = spec.exchange
        self._prefetch = prefetch
        self._on_message = on_message
        self._spawn = spawn
        self._has_room = has_room
        self._consumer_tag: str | None = None
        self.cancelled = False

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        channel = connection.channel()
        self.spec.declare(channel)
        if not self.cancelled:
            channel.basic_qos(0, self._prefetch, False)
            self._consumer_tag = channel.basic_consume(self.queue, callback=self._deliver)
        return channel

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
        super().detach()
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
        channel, tag = self.channel, self._consumer_tag
        if channel is not None and tag is not None:
            try:
                with self.link.writing():
                    channel.basic_cancel(tag, nowait=True)
            except LinkDown:
                pass  # no connection, no consumer left to cancel

    def _settle(self, message: amqp.Message, frame: Callable[[int], bytes]) -> None:
        channel = self.channel
        if channel is None or message.channel is not channel:
            _log.debug("not settling a message of an earlier connection: it was requeued")
            return
        try:
            self.link.send(channel, frame(channel.channel_id))
        except LinkDown:
            pass  # the broker requeues what was not acked on the lost connection
