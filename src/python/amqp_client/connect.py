"""Opening a connection to one of a cluster's nodes: the first of them that answers.

An ``amqps://`` node is reached over TLS: its certificate must chain to the CA bundle
given (the system's by default) and name the host the URI names. A client certificate,
where one is given, is presented too, and the connection then logs in with it
(RabbitMQ's EXTERNAL mechanism) instead of the URI's password.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import amqp
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

CONNECTION_ERRORS = (OSError, amqp.exceptions.AMQPError)


class LinkDown(ConnectionError):
    """There is no connection to the broker now: nothing was sent, or what was owed on the
    lost connection (a reply, a confirm) will never come."""


@dataclass(frozen=True)
class Tls:
    """Files for ``amqps://`` nodes: a CA bundle, and a client certificate with its key."""

    ca_file: str = ""  # empty: the system's trusted CAs
    cert_file: str = ""
    key_file: str = ""

    def options(self, host: str) -> dict[str, Any]:
        """py-amqp's ``ssl`` options for a node called `host`: verified, by name."""
        options: dict[str, Any] = {"server_hostname": host, "cert_reqs": ssl.CERT_REQUIRED}
        if self.ca_file:
            options["ca_certs"] = self.ca_file
        if self.cert_file:
            options["certfile"] = self.cert_file
            options["keyfile"] = self.key_file or None
        return options

    @property
    def login_method(self) -> str:
        # Named either way: given no method, py-amqp picks EXTERNAL whenever the broker
        # offers it, and a password login then fails.
        return "EXTERNAL" if self.cert_file else "AMQPLAIN"


def node_uris(uri: str) -> list[str]:
    """The nodes of an AMQP URI, several separated by ";" as kombu and Nameko write them."""
    return [part.strip() for part in uri.split(";") if part.strip()]


def sanitized(uri: str) -> str:
    """`uri` with every node's password masked, to log or show."""
    return ";".join(maybe_sanitize_url(part) for part in node_uris(uri))


def connection_options(uri: str, tls: Tls) -> dict[str, Any]:
    """kombu's arguments for one node: TLS and its login, where the URI asks for TLS."""
    parts = urlsplit(uri)
    if parts.scheme != "amqps":
        return {}
    return {"ssl": tls.options(parts.hostname or ""), "login_method": tls.login_method}


def open_connection(
    uris: list[str], first: int, heartbeat: int, connect_timeout: float, tls: Tls = Tls()
) -> tuple[int, amqp.Connection]:
    """Connect to the first node that answers, trying each once from `first`: which one
    it was, and the connection. Raises `LinkDown` naming every node's failure."""
    failures = []
    for offset in range(len(uris)):
        index = (first + offset) % len(uris)
        try:
            connection = Connection(
                uris[index],
                heartbeat=heartbeat,
                connect_timeout=connect_timeout,
                **connection_options(uris[index], tls),
            )
            connection.connect()
        except CONNECTION_ERRORS as exc:
            failures.append(f"{maybe_sanitize_url(uris[index])}: {exc or type(exc).__name__}")
            continue
        raw: amqp.Connection = connection.connection
        return index, raw
    raise LinkDown("; ".join(failures))
