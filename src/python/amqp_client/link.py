"""One long-lived AMQP connection per process, kept up by one green thread.

Nameko's own publishers take a pooled connection per message and retry for seconds
when the broker is gone, which suits background work but not an HTTP request that
must answer quickly. A service's RPC client, event publisher and consumers instead
share the connection held here:

* a single green thread connects (retrying with capped exponential backoff and
  saying so in the log), lets each `LinkSession` declare what it needs, then reads
  and dispatches frames until the connection fails, and starts over;
* callers publish from their own green threads under one write lock (a message is
  several frames, which must not interleave), as frames encoded by `amqp_client.frames`;
* while there is no connection, publishing fails at once with `LinkDown`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import amqp
import eventlet
from eventlet.event import Event
from eventlet.greenthread import GreenThread
from eventlet.semaphore import Semaphore
from greenlet import GreenletExit
from kombu.utils.url import maybe_sanitize_url
from prometheus_client import Counter, Gauge

from amqp_client.connect import CONNECTION_ERRORS, LinkDown, Tls, node_uris, open_connection
from amqp_client.frames import InboundFrames, publish_frames
from amqp_client.messages import OutgoingMessage
from amqp_client.transport import BufferedIO

_log = logging.getLogger(__name__)


RECOVERY_DELAY = 1.5  # seconds before the first reconnection attempt

CONNECTED = Gauge("amqp_connection_up", "1 while the process's broker connection is up.")
CONNECTIONS = Counter(
    "amqp_connections", "Broker connections made (the first, then one per reconnect)."
)


class Attachable(Protocol):
    """What lives on the link's connection (`amqp_client.session.LinkSession`)."""

    def attach(self, connection: amqp.Connection) -> None:
        """Declare and subscribe on a fresh connection (runs on the link's thread)."""

    def detach(self) -> None:
        """The connection is gone: fail whatever still waits on it."""


class Backoff:
    """Capped exponential delays with jitter, so restarted fleets do not reconnect in step."""

    def __init__(self, first: float = 0.25, cap: float = 10.0) -> None:
        self.first = first
        self.cap = cap
        self._next = first

    def reset(self) -> None:
        self._next = self.first

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * random.uniform(0.8, 1.2)


class AmqpLink:
    """Keeps one connection to the broker open and shares it between sessions."""

    def __init__(
        self, uri: str, heartbeat: int, connect_timeout: float = 5.0, tls: Tls = Tls()
    ) -> None:
        self.uri = uri
        self.tls = tls
        self.uris = node_uris(uri)
        self._first = 0  # the node to try first: the last that answered, or the next after
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self._sessions: list[Attachable] = []
        self._connection: amqp.Connection | None = None
        self._io: BufferedIO | None = None
        self._attaching = False
        self._write_lock = Semaphore()
        self._stopping = False
        self._thread: GreenThread | None = None
        self._connected_event = Event()

    def add_session(self, session: Attachable) -> None:
        """`session` attaches on every connection from now on (declare before `start`)."""
        self._sessions.append(session)

    @property
    def connected(self) -> bool:
        """Connected, with every session's queues declared and consumed."""
        return self._connection is not None and not self._attaching

    def start(self) -> None:
        self._thread = eventlet.spawn(self._run)

    def stop(self) -> None:
        """End the link's thread; it closes the connection on its way out."""
        self._stopping = True
        if self._thread is not None:
            # Raises GreenletExit wherever the thread waits (a read, a backoff sleep);
            # its `finally` then closes the connection (bounded by `_close`).
            self._thread.kill()
            with contextlib.suppress(GreenletExit):
                self._thread.wait()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or `timeout` seconds pass; says which."""
        if self.connected:
            return True
        with eventlet.Timeout(timeout, False):
            self._connected_event.wait()
        return self.connected

    @contextmanager
    def writing(self) -> Iterator[amqp.Connection]:
        """Hold the write lock over a connection that is up, or raise `LinkDown`.

        A publish interrupted half-way (say by a caller's deadline) leaves a partial
        frame on the socket; the connection is then dropped and made afresh.
        """
        with self._write_lock:
            connection = self._connection
            if connection is None:
                raise LinkDown("the message broker is not reachable")
            try:
                yield connection
            except CONNECTION_ERRORS as exc:
                self._abandon(connection)
                raise LinkDown("lost the connection to the message broker") from exc
            except eventlet.Timeout:
                self._abandon(connection)
                raise

    def publish(
        self,
        channel: amqp.Channel | None,
        message: OutgoingMessage,
        exchange: str,
        routing_key: str,
        on_sent: Callable[[], object] = lambda: None,
        mandatory: bool = True,
    ) -> None:
        """Publish `message` on `channel`, or raise `LinkDown`.

        ``mandatory`` (the default) has the broker return a message no queue takes; the
        channel must then have a ``basic_return`` handler. `on_sent` runs under the
        write lock right after the publish, so sessions can count publishes in the
        order the broker sees them.
        """
        connection = channel.connection if channel is not None else None
        if channel is None or connection is None:
            raise LinkDown("the message broker is not reachable")
        frames = publish_frames(
            channel.channel_id, connection.frame_max, exchange, routing_key, mandatory, message
        )
        self.send(channel, frames, on_sent)

    def send(
        self, channel: amqp.Channel, frames: bytes, on_sent: Callable[[], object] = lambda: None
    ) -> None:
        """Write encoded frames of `channel`, or raise `LinkDown`.

        A channel of an earlier connection counts as no connection: its number may
        belong to another channel now.
        """
        with self.writing() as connection:
            if channel.connection is not connection or self._io is None:
                raise LinkDown("lost the connection to the message broker")
            self._io.write(frames)
            connection.bytes_sent += 1
            on_sent()

    def _run(self) -> None:
        # From the first delay on, after a lost connection too: a cluster needs a moment
        # to elect new leaders for the queues of a node that went away, and a channel
        # opened meanwhile can stay bound to the dead leader (RabbitMQ 3.10: what it
        # publishes is confirmed, and never delivered). RabbitMQ's own clients wait 5 s.
        backoff = Backoff(first=RECOVERY_DELAY)
        while not self._stopping:
            try:
                connection, io = self._connect()
            except CONNECTION_ERRORS as exc:
                delay = backoff.next_delay()
                _log.warning(
                    "broker unreachable (%s); retrying in %.1fs", exc or type(exc).__name__, delay
                )
                eventlet.sleep(delay)
                continue
            try:
                with self._write_lock:
                    # A consumer attached first can get deliveries while later sessions
                    # attach: acks for them wait here, then go out on this connection.
                    self._connection, self._io, self._attaching = connection, io, True
                    for session in self._sessions:
                        session.attach(connection)
                    self._attaching = False
                self._connected_event.send(True)
                self._connected_event = Event()
                backoff.reset()
                CONNECTED.set(1)
                CONNECTIONS.inc()
                _log.info("connected to broker %s", maybe_sanitize_url(self.uris[self._first]))
                self._serve(connection, io)
            except CONNECTION_ERRORS as exc:
                if not self._stopping:
                    # Another node first: this one may be the one that went away.
                    self._first = (self._first + 1) % len(self.uris)
                    _log.warning(
                        "lost broker connection (%s); reconnecting", exc or type(exc).__name__
                    )
            finally:
                CONNECTED.set(0)
                self._connection, self._attaching = None, False
                for session in self._sessions:
                    session.detach()
                self._close(connection)
            if not self._stopping:
                eventlet.sleep(backoff.next_delay())

    def _connect(self) -> tuple[amqp.Connection, BufferedIO]:
        self._first, raw = open_connection(
            self.uris, self._first, self.heartbeat, self.connect_timeout, self.tls
        )
        return raw, BufferedIO(raw, on_error=lambda exc: self._abandon(raw))

    def _serve(self, connection: amqp.Connection, io: BufferedIO) -> None:
        """Read frames and dispatch them to the sessions' callbacks until the link fails."""
        dispatch = InboundFrames(connection, fallback=connection.on_inbound_frame)
        tick = max(0.2, self.heartbeat / 4) if self.heartbeat else 1.0
        connection.transport.sock.settimeout(tick)
        while not self._stopping:
            try:
                for frame in io.read_frames():
                    dispatch(frame)
            except socket.timeout:
                pass
            abandoned = connection is not self._connection
            if abandoned:
                raise ConnectionAbortedError("connection abandoned after a failed write")
            with self._write_lock:
                connection.heartbeat_tick()

    def _abandon(self, connection: amqp.Connection) -> None:
        """Stop using a connection whose stream can no longer be trusted."""
        if self._connection is connection:
            self._connection = None
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _close(connection: amqp.Connection) -> None:
        try:
            with eventlet.Timeout(2):
                connection.close()
        except (*CONNECTION_ERRORS, eventlet.Timeout, AttributeError):
            connection.collect()
