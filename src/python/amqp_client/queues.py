"""Queues, declared alike by everyone who uses them.

A publisher that declares its consumers' queues (so that nothing is lost before they
start) and the consumers themselves must declare each queue with the same arguments, or
the broker refuses the second declaration. A `QueueSpec` is that one declaration: the
queue, the topic exchange it is bound to, its arguments, and, where its arguments name a
dead-letter exchange, that exchange and the queue that keeps what it receives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import amqp

DEAD_LETTER_EXCHANGE = "x-dead-letter-exchange"
QUEUE_TYPE = "x-queue-type"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    exchange: str
    routing_key: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    # A transient queue is deleted with its node: where it may be declared again on
    # another node at once (see messaging.queues), that beats waiting for the node.
    durable: bool = True

    def dead_letter_spec(self) -> QueueSpec | None:
        """The queue that keeps what this one dead-letters, where its arguments name an
        exchange for them: it has the exchange's name, and the queue type of its source."""
        dead_letters = self.arguments.get(DEAD_LETTER_EXCHANGE)
        if not dead_letters:
            return None
        kind = {QUEUE_TYPE: self.arguments[QUEUE_TYPE]} if QUEUE_TYPE in self.arguments else {}
        return QueueSpec(dead_letters, dead_letters, "#", kind)

    def declare(self, channel: amqp.Channel) -> None:
        dead_letters = self.dead_letter_spec()
        if dead_letters is not None:
            dead_letters.declare(channel)
        channel.exchange_declare(self.exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(
            self.name, durable=self.durable, auto_delete=False, arguments=dict(self.arguments)
        )
        channel.queue_bind(self.name, self.exchange, routing_key=self.routing_key)
