"""Opening a connection to one of a cluster's nodes: the first of them that answers."""

from __future__ import annotations

import amqp
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

CONNECTION_ERRORS = (OSError, amqp.exceptions.AMQPError)


class LinkDown(ConnectionError):
    """There is no connection to the broker now: nothing was sent, or what was owed on the
    lost connection (a reply, a confirm) will never come."""


def node_uris(uri: str) -> list[str]:
    """The nodes of an AMQP URI, several separated by ";" as kombu and Nameko write them."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def sanitized(uri: str) -> str:
    """`uri` with every node's password masked, to log or show."""
    return ";".join(maybe_sanitize_url(part) for part in node_uris(uri))


def open_connection(
    uris: list[str], first: int, heartbeat: int, connect_timeout: float
) -> tuple[int, amqp.Connection]:
    """Connect to the first node that answers, trying each once from `first`: which one
    it was, and the connection. Raises `LinkDown` naming every node's failure."""
    failures = []
    for offset in range(len(uris)):
        index = (first + offset) % len(uris)
        try:
            connection = Connection(
                uris[index], heartbeat=heartbeat, connect_timeout=connect_timeout
            )
            connection.connect()
        except CONNECTION_ERRORS as exc:
            failures.append(f"{maybe_sanitize_url(uris[index])}: {exc or type(exc).__name__}")
            continue
        raw: amqp.Connection = connection.connection
        return index, raw
    raise LinkDown("; ".join(failures))
