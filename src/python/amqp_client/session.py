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
from typing import Any, Generic, TypeVar

import amqp
import eventlet
from eventlet.event import Event

from amqp_client.connect import LinkDown
from amqp_client.link import AmqpLink

T = TypeVar("T")


class Confirms(Generic[T]):
    """The publishes of a confirm-mode channel that the broker has not acked or nacked yet.

    The broker numbers a channel's publishes from 1 in the order it receives them, so
    `sent` must run in that order (under the link's write lock, as ``on_sent`` does).
    """

    def __init__(self) -> None:
        self._next = 1
        self.pending: dict[int, T] = {}

    def reset(self) -> None:
        """A fresh channel: numbering starts again."""
        self._next = 1
        self.pending.clear()

    def sent(self, entry: T) -> int:
        tag = self._next
        self.pending[tag] = entry
        self._next += 1
        return tag

    def settle(self, tag: int, multiple: bool) -> list[T]:
        """The entries an ack or nack of `tag` settles (all up to it, if `multiple`)."""
        if not multiple:
            entry = self.pending.pop(tag, None)
            return [] if entry is None else [entry]
        settled = []
        while self.pending and (first := next(iter(self.pending))) <= tag:
            settled.append(self.pending.pop(first))
        return settled


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
