"""Looking at a broker from outside: can one log in, what a queue holds, who consumes it."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import amqp


def connect(uri: str, timeout: float = 2, ca_file: str | None = None) -> amqp.Connection:
    """A plain py-amqp connection to `uri`, to look at or set up the broker. Over TLS
    (``amqps://``) the broker's certificate is verified with `ca_file` if given."""
    parts = urlsplit(uri)
    tls: dict[str, Any] | bool = False
    if parts.scheme == "amqps":
        verified = {"server_hostname": parts.hostname, "ca_certs": ca_file}
        tls = verified if ca_file else {"cert_reqs": ssl.CERT_NONE}
    connection = amqp.Connection(
        f"{parts.hostname}:{parts.port or (5671 if tls else 5672)}",
        userid=parts.username or "guest",
        password=parts.password or "guest",
        virtual_host=(parts.path[1:] or "/").replace("%2F", "/"),
        connect_timeout=timeout,
        ssl=tls,
        login_method="AMQPLAIN",
    )
    connection.connect()
    return connection


def amqp_ready(uri: str, ca_file: str | None = None) -> bool:
    """True once the broker accepts an AMQP login at `uri`."""
    try:
        connect(uri, ca_file=ca_file).close()
        return True
    except (OSError, amqp.exceptions.AMQPError):
        return False


def has_consumer(uri: str, queue: str) -> bool:
    """True once some service consumes from `queue` (i.e. it has started)."""
    counts = queue_counts(uri, queue)
    return counts is not None and counts[1] > 0


def queue_counts(uri: str, queue: str) -> tuple[int, int] | None:
    """The messages ready in `queue` and its consumers; None if it does not exist."""
    connection = connect(uri)
    try:
        _, messages, consumers = connection.channel().queue_declare(queue, passive=True)
        return messages, consumers
    except amqp.exceptions.NotFound:
        return None
    finally:
        connection.collect()


class ConsumerProbe:
    """Whether queues have consumers, asked over one connection kept open (a restart asks
    many times a second)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._connection: amqp.Connection | None = None

    def has_consumer(self, queue: str) -> bool:
        try:
            if self._connection is None:
                self._connection = connect(self.uri)
            # A passive declare of a missing queue closes its channel: one channel per ask.
            channel = self._connection.channel()
            _, _, consumers = channel.queue_declare(queue, passive=True)
            channel.close()
            return bool(consumers)
        except amqp.exceptions.NotFound:
            return False
        except (OSError, amqp.exceptions.AMQPError):
            self.close()
            return False

    def close(self) -> None:
        if self._connection is not None:
            self._connection.collect()
            self._connection = None
