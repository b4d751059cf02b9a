"""The process's broker link against a real RabbitMQ: what happens while it connects."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import amqp
import eventlet

from harness.cleanup import Cleanup
from harness.waiting import wait_for
from shared.amqp_link import AmqpLink
from shared.link_consumer import QueueSubscription

BACKLOG = 50


def broker_channel(amqp_uri: str, cleanup: Cleanup) -> amqp.Channel:
    parts = urlsplit(amqp_uri)
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or 5672}",
        userid=parts.username,
        password=parts.password,
        virtual_host=parts.path[1:] or "/",
    )
    connection.connect()
    cleanup(connection.close)
    return connection.channel()


class ManyDeclarations:
    """A session with many declarations, as a service's later queues have: while the link
    waits for each answer, it dispatches deliveries that arrived meanwhile."""

    def attach(self, connection: amqp.Connection) -> None:
        channel = connection.channel()
        for _ in range(20):
            channel.exchange_declare("amq.direct", "direct", passive=True)

    def detach(self) -> None:
        pass


def test_acks_for_messages_taken_while_the_link_attaches_reach_the_broker(
    amqp_uri: str, cleanup: Cleanup
) -> None:
    channel = broker_channel(amqp_uri, cleanup)
    queue = f"test-backlog-{uuid.uuid4().hex}"
    channel.queue_declare(queue, durable=False, auto_delete=False)
    cleanup(lambda: channel.queue_delete(queue))
    for n in range(BACKLOG):
        channel.basic_publish(amqp.Message(str(n)), exchange="", routing_key=queue)

    link = AmqpLink(amqp_uri, heartbeat=0)
    handled: list[bytes] = []

    def handle(message: amqp.Message) -> None:
        handled.append(message.body)
        subscription.ack(message)

    subscription = QueueSubscription(
        link, queue, declare=lambda channel: None, prefetch=4, on_message=handle,
        spawn=eventlet.spawn,
    )  # fmt: skip
    # Attached after the consumer: the first deliveries are handled during its attach.
    link.sessions.append(ManyDeclarations())
    link.start()
    cleanup(link.stop)

    # Each ack frees a prefetch slot; a lost ack would stall the queue at 4 in flight.
    wait_for(lambda: len(handled) == BACKLOG, 10, f"all {BACKLOG} messages handled")
    wait_for(lambda: channel.queue_declare(queue, passive=True).message_count == 0, 10,
             "the queue drained")  # fmt: skip
