"""Looking at a broker from outside: can one log in, does a queue have a consumer."""

from __future__ import annotations

from urllib.parse import urlsplit

import amqp


def connect(uri: str, timeout: float = 2) -> amqp.Connection:
    """A plain py-amqp connection to `uri`, to look at or set up the broker."""
    parts = urlsplit(uri)
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or 5672}",
        userid=parts.username or "guest",
        password=parts.password or "guest",
        virtual_host=(parts.path[1:] or "/").replace("%2F", "/"),
        connect_timeout=timeout,
    )
    connection.connect()
    return connection


def amqp_ready(uri: str) -> bool:
    """True once the broker accepts an AMQP login at `uri`."""
    try:
        connect(uri).close()
        return True
    except (OSError, amqp.exceptions.AMQPError):
        return False


def has_consumer(uri: str, queue: str) -> bool:
    """True once some service consumes from `queue` (i.e. it has started)."""
    connection = connect(uri)
    try:
        _, _, consumers = connection.channel().queue_declare(queue, passive=True)
        return bool(consumers)
    except amqp.exceptions.NotFound:
        return False
    finally:
        connection.collect()
