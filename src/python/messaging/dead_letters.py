"""The ``dead-letters`` queue, looked at and replayed by an operator.

What an event handler cannot process, and (on quorum queues) what was delivered
``DELIVERY_LIMIT`` times, waits in ``dead-letters`` with RabbitMQ's account of it
(``x-death``: the queue it left, why, how often). Nothing consumes it: `peek` lists the
oldest without taking them (they go back when the channel closes), and `replay` puts one
back in the queue it came from, confirmed, then removes it. Both use a short connection
of their own, apart from the service's link.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import amqp

from amqp_client.connect import node_uris, open_connection
from messaging.link import tls_of
from messaging.queues import DEAD_LETTERS
from runtime.config import Settings

CONNECT_TIMEOUT = 5.0
MAX_SCAN = 10_000  # dead letters looked at, at most, to find one to replay
# Headers the broker adds when it dead-letters a message; a replayed message is clean.
_DEATH_HEADERS = ("x-death", "x-first-death-", "x-last-death-", "x-delivery-count")


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter, as ``log.dead_letters`` lists it: `SCHEMA` says what each field is."""

    message_id: str | None
    queue: str
    reason: str
    count: int
    body: str

    @classmethod
    def of(cls, message: amqp.Message) -> DeadLetter:
        headers = message.properties.get("application_headers") or {}
        deaths = headers.get("x-death") or [{}]
        first = deaths[0]
        return cls(
            message_id=message.properties.get("message_id"),
            queue=_text(headers.get("x-first-death-queue") or first.get("queue", "")),
            reason=_text(headers.get("x-first-death-reason") or first.get("reason", "")),
            count=int(first.get("count", 1)),
            body=_text(message.body),
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message_id", "queue", "reason", "count", "body"],
    "properties": {
        "message_id": {"type": ["string", "null"]},
        "queue": {"type": "string", "description": "The queue it was dead-lettered from."},
        "reason": {
            "type": "string",
            "description": (
                "rejected (its handler could not process it), delivery_limit, or expired."
            ),
        },
        "count": {"type": "integer", "description": "Times dead-lettered from that queue."},
        "body": {"type": "string", "description": "The message's body, as text."},
    },
}
"""A `DeadLetter`'s fields as JSON Schema, for the document of ``log.dead_letters``."""


@contextmanager
def _channel(settings: Settings) -> Iterator[amqp.Channel]:
    uris = node_uris(settings.amqp_uri)
    _, connection = open_connection(uris, 0, 0, CONNECT_TIMEOUT, tls_of(settings))
    try:
        yield connection.channel()
    finally:
        connection.collect() if connection.sock is None else connection.close()


def peek(settings: Settings, limit: int) -> list[DeadLetter]:
    """The oldest `limit` dead letters, left where they are."""
    with _channel(settings) as channel:
        letters: list[DeadLetter] = []
        while len(letters) < limit and (message := channel.basic_get(DEAD_LETTERS)):
            letters.append(DeadLetter.of(message))
        return letters  # unacked: closing the channel puts them back


def replay(settings: Settings, message_id: str) -> DeadLetter | None:
    """Put the dead letter `message_id` back in the queue it came from; None if no dead
    letter has that id. Removed from ``dead-letters`` only once the broker confirms it."""
    with _channel(settings) as channel:
        channel.confirm_select()
        for _ in range(MAX_SCAN):
            message = channel.basic_get(DEAD_LETTERS)
            if message is None:
                return None
            if message.properties.get("message_id") != message_id:
                continue
            letter = DeadLetter.of(message)
            properties = dict(message.properties)
            properties["application_headers"] = {
                key: value
                for key, value in (properties.get("application_headers") or {}).items()
                if not key.startswith(_DEATH_HEADERS)
            }
            channel.basic_publish_confirm(
                amqp.Message(message.body, **properties),
                exchange="",  # the default exchange: straight to the queue it left
                routing_key=letter.queue,
                mandatory=True,
                confirm_timeout=CONNECT_TIMEOUT,
            )
            channel.basic_ack(message.delivery_tag)
            return letter
    return None


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)
