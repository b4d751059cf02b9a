"""The arguments each queue of the services is declared with.

``QUEUE_TYPE`` chooses classic queues (one node) or, on a cluster, quorum queues
(RabbitMQ's replicated queue type) for the event queues, which keep what the broker
confirmed, and transient classic queues for the RPC queues (`rpc_queue_spec` says why);
reply queues are always exclusive classic queues. An event queue can ask for dead
letters: what its handler cannot process goes to the ``dead-letters`` exchange and queue
instead of being dropped, and on quorum queues an event redelivered ``DELIVERY_LIMIT``
times goes there too. RPC queues have no dead letters: a request that expires at its
deadline has nobody waiting for it any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from amqp_client.queues import DEAD_LETTER_EXCHANGE, QUEUE_TYPE, QueueSpec
from runtime.config import Settings

DEAD_LETTERS = "dead-letters"


def queue_arguments(settings: Settings, dead_letters: bool = False) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    quorum = settings.queue_type == "quorum"
    if quorum:
        arguments[QUEUE_TYPE] = "quorum"
    if dead_letters:
        arguments[DEAD_LETTER_EXCHANGE] = DEAD_LETTERS
        if quorum:
            arguments["x-delivery-limit"] = settings.delivery_limit
            # Dead-lettered only once the dead-letter queue has the message.
            arguments["x-dead-letter-strategy"] = "at-least-once"
            arguments["x-overflow"] = "reject-publish"
    return arguments


def rpc_queue_spec(service: str, exchange: str, settings: Settings) -> QueueSpec:
    """``rpc-<service>``, bound to the RPC exchange for every method of the service.

    On a cluster (quorum queues) it is a transient classic queue, as RabbitMQ advises for
    short-lived, latency-bound messages that outlive no deadline: replicating each call
    through Raft would cost more than the call, and buys nothing a caller can use. When
    its node goes down the broker deletes it, and a call then fails at once as unroutable
    (its consumers' connections recover and declare it again on a live node) rather than
    waiting out its deadline for a queue that cannot be reached.
    """
    name, key = f"rpc-{service}", f"{service}.*"
    if settings.queue_type == "quorum":
        return QueueSpec(name, exchange, key, durable=False)
    return QueueSpec(name, exchange, key, queue_arguments(settings))


def event_queue_spec(
    queue: str, source: str, event_type: str, settings: Settings, dead_letters: bool
) -> QueueSpec:
    """A handler's queue, bound to ``<source>.events`` for one event type."""
    arguments = queue_arguments(settings, dead_letters)
    return QueueSpec(queue, f"{source}.events", event_type, arguments)


@dataclass(frozen=True)
class EventRoute:
    """Where events of one type go: Nameko's ``<source>.events`` topic exchange, and the
    durable queues that must hold them. Publishers declare those queues before the first
    publish, so an event sent before its consumer has ever started is kept, not dropped."""

    source: str
    event_type: str
    durable_queues: tuple[str, ...]
    # The queues keep what their handler cannot process in ``dead-letters`` (see
    # above); their handlers must say the same (``dead_letters=True``).
    dead_letters: bool = False

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"

    def queue_specs(self, settings: Settings) -> list[QueueSpec]:
        return [
            event_queue_spec(queue, self.source, self.event_type, settings, self.dead_letters)
            for queue in self.durable_queues
        ]


def handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The queue Nameko's ``@event_handler`` (service pool mode) consumes from."""
    return f"evt-{source}-{event_type}--{service}.{method}"


def handler_of(queue: str) -> str:
    """The handler (``service.method``) whose `handler_queue` `queue` is."""
    return queue.rsplit("--", 1)[1]
