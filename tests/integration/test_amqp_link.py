"""The process's broker link against a real RabbitMQ: what happens while it connects."""

from __future__ import annotations

import uuid

import amqp
import eventlet

from amqp_client.link import AmqpLink
from amqp_client.queues import QueueSpec
from amqp_client.session import LinkSession
from amqp_client.subscription import QueueSubscription
from devstack.probes import connect
from devstack.waiting import wait_for
from harness.cleanup import Cleanup

BACKLOG = 50


class ManyDeclarations(LinkSession):
    """A session with many declarations, as a service's later queues have: while the link
    waits for each answer, it dispatches deliveries that arrived meanwhile."""

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        channel = connection.channel()
        for _ in range(20):
            channel.exchange_declare("amq.direct", "direct", passive=True)
        return channel


def test_acks_for_messages_taken_while_the_link_attaches_reach_the_broker(
    amqp_uri: str, cleanup: Cleanup
) -> None:
    broker = connect(amqp_uri)
    cleanup(broker.close)
    channel = broker.channel()
    name = f"test-backlog-{uuid.uuid4().hex}"
    channel.exchange_declare(name, "topic", durable=True, auto_delete=False)
    channel.queue_declare(name, durable=True, auto_delete=False)
    channel.queue_bind(name, name, routing_key="backlog")
    cleanup(lambda: channel.exchange_delete(name))
    cleanup(lambda: channel.queue_delete(name))
    for n in range(BACKLOG):
        channel.basic_publish(amqp.Message(str(n)), exchange=name, routing_key="backlog")

    link = AmqpLink(amqp_uri, heartbeat=0)
    handled: list[bytes] = []

    def handle(message: amqp.Message) -> None:
        handled.append(message.body)
        subscription.ack(message)

    subscription = QueueSubscription(
        link, QueueSpec(name, name, "backlog"), prefetch=4, on_message=handle, spawn=eventlet.spawn
    )
    # Attached after the consumer: the first deliveries are handled during its attach.
    ManyDeclarations(link)
    link.start()
    cleanup(link.stop)

    # Each ack frees a prefetch slot; a lost ack would stall the queue at 4 in flight.
    wait_for(lambda: len(handled) == BACKLOG, 10, f"all {BACKLOG} messages handled")
    wait_for(lambda: channel.queue_declare(name, passive=True).message_count == 0, 10,
             "the queue drained")  # fmt: skip
