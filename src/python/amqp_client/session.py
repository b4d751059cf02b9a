"""What lives on a link's connection, in one shape: the RPC client, the event publisher
and every queue subscription are `LinkSession`s.

A session registers with its `AmqpLink` once. On every fresh connection the link calls
`attach`, which opens the session's channel and declares what it needs (`open`); when
the connection is lost it calls `detach`, which fails every caller still waiting on the
session: a reply or a confirm owed on a lost connection will never come.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import amqp
import eventlet
from eventlet.event import Event

from amqp_client.link import AmqpLink, LinkDown


@contextmanager
def deadline(seconds: float, error: Callable[[], Exception]) -> Iterator[None]:
    """Raise `error()` if the block takes longer than `seconds`.

    Only this deadline's expiry is converted: an enclosing timeout still passes through.
    """
    timer = eventlet.Timeout(seconds)
    try:
        yield
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        raise error() from None
    finally:
        timer.cancel()


class LinkSession:
    """A channel on the link's connection, and the callers waiting on it."""

    def __init__(self, link: AmqpLink) -> None:
        self.link = link
        self.channel: amqp.Channel | None = None
        # What callers wait for (a reply, a confirm), by key; settled by the session.
        self.waiting: dict[Hashable, Event] = {}
        link.add_session(self)

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        """Open this session's channel on a fresh connection and declare what it needs."""
        raise NotImplementedError

    def attach(self, connection: amqp.Connection) -> None:
        """Called by the link's thread on every fresh connection."""
        self.channel = self.open(connection)

    def detach(self) -> None:
        """Called by the link's thread when the connection is gone."""
        self.channel = None
        waiting, self.waiting = self.waiting, {}
        for waiter in waiting.values():
            waiter.send_exception(LinkDown("lost the connection to the message broker"))

    @property
    def in_flight(self) -> int:
        """Callers waiting now (zero when idle: nothing leaks)."""
        return len(self.waiting)

    def publish_and_wait(
        self,
        waiter: Event,
        publish: Callable[[], None],
        timeout: float,
        timed_out: Callable[[], Exception],
        forget: Callable[[], object],
    ) -> Any:
        """Run `publish`, then wait for `waiter`, all within `timeout` seconds.

        Raises `timed_out()` past the deadline, `LinkDown` if there is no connection
        or it is lost meanwhile; `forget` runs in every case, to drop the waiter.
        """
        try:
            with deadline(timeout, timed_out):
                publish()
                return waiter.wait()
        finally:
            forget()
