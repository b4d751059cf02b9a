"""AmqpLink and QueueSubscription against a scripted broker, frame by frame.

`FakeBroker` listens on a loopback port in this process (green threads) and speaks just
enough AMQP 0-9-1 for py-amqp's handshake and a subscription's declarations, answering
as RabbitMQ would. It records every frame the client sends, and a test can push
deliveries, drop a connection abruptly and hold new connections unanswered.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from struct import unpack_from
from typing import Any

import amqp
import eventlet
import pytest
from amqp import spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps, loads
from eventlet.event import Event

from amqp_client.connect import LinkDown
from amqp_client.frames import METHOD, ack_frame, reject_frame
from amqp_client.link import AmqpLink
from amqp_client.messages import json_message
from amqp_client.queues import QueueSpec
from amqp_client.session import LinkSession
from amqp_client.subscription import QueueSubscription
from amqp_client.transport import BufferedIO
from devstack.waiting import wait_for

TIMEOUT = 5.0
FRAME_MAX = 131072
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
EXCHANGE, QUEUE, ROUTING_KEY, PREFETCH = "orders", "orders.audit", "order.*", 10
LARGE = b"[" + b"1," * 150_000 + b"1]"  # three body frames, several reads

Method = tuple[int, int]

# A request's arguments up to its nowait bit (py-amqp's formats): no reply when it is set.
NOWAIT_AT: dict[Method, str] = {
    spec.Exchange.Declare: "Bssbbbbb",
    spec.Queue.Declare: "Bsbbbbb",
    spec.Queue.Bind: "Bsssb",
    spec.Basic.Consume: "Bssbbbb",
    spec.Basic.Cancel: "sb",
    spec.Confirm.Select: "b",
}

# What a subscription sends on its channel, in order, on every fresh connection.
DECLARATIONS = [
    spec.Channel.Open,
    spec.Exchange.Declare,
    spec.Queue.Declare,
    spec.Queue.Bind,
    spec.Basic.Qos,
    spec.Basic.Consume,
]


@dataclass(frozen=True)
class Received:
    """One frame as the broker read it off the socket."""

    kind: int
    channel: int
    payload: bytes
    raw: bytes

    @property
    def method(self) -> Method | None:
        if self.kind != METHOD:
            return None
        class_id, method_id = unpack_from(">HH", self.payload)
        return class_id, method_id

    def arguments(self, format: str) -> list[Any]:
        """The method's arguments, decoded as py-amqp's `loads` reads `format`."""
        values: list[Any] = loads(format, self.payload, 4)[0]
        return values


class BrokerConnection:
    """The broker's side of one client connection."""

    # What py-amqp's frame writer needs of a connection (it also counts in bytes_sent).
    frame_max = FRAME_MAX
    bytes_sent = 0

    def __init__(self, sock: Any, admitted: Event) -> None:
        self.sock = sock
        self.frames: list[Received] = []
        self.consumers: list[tuple[int, str]] = []  # (channel, consumer tag)
        self._admitted = admitted
        self._write_frame = frame_writer(self, self)  # this object is its transport too

    def write(self, data: Any) -> None:
        self.sock.sendall(bytes(data))

    def send(
        self, channel: int, method: Method, arguments: bytes, content: amqp.Message | None = None
    ) -> None:
        self._write_frame(METHOD, channel, method, arguments, content)

    def deliver(self, consumer: tuple[int, str], delivery_tag: int, body: bytes) -> None:
        """Push a message to `consumer` (its channel and tag), as Basic.Deliver and content."""
        channel, tag = consumer
        arguments = dumps("sLbss", (tag, delivery_tag, False, EXCHANGE, "order.placed"))
        message = amqp.Message(body, content_type="application/json", delivery_mode=2)
        self.send(channel, spec.Basic.Deliver, arguments, message)

    def drop(self) -> None:
        """End the connection abruptly: no Connection.Close, the socket just closes."""
        self.sock.shutdown(socket.SHUT_RDWR)

    def methods(self, channel: int) -> list[Method]:
        """The methods received on `channel`, in order."""
        return [m for f in self.frames if f.channel == channel and (m := f.method) is not None]

    def received(self, method: Method) -> list[Received]:
        return [frame for frame in self.frames if frame.method == method]

    def serve(self) -> None:
        buffer = bytearray()
        try:
            self._admitted.wait()
            while len(buffer) < len(PROTOCOL_HEADER):
                if not self._read_into(buffer):
                    return
            if buffer[:8] != PROTOCOL_HEADER:
                return
            del buffer[:8]
            properties = {"product": "fake broker", "capabilities": {"publisher_confirms": True}}
            start = (0, 9, properties, "PLAIN AMQPLAIN", "en_US")
            self.send(0, spec.Connection.Start, dumps("ooFSS", start))
            while self._read_into(buffer):
                data = bytes(buffer)
                offset = 0
                for kind, channel, payload in BufferedIO._split_frames(buffer):
                    end = offset + 8 + len(payload)
                    frame = Received(kind, channel, payload, data[offset:end])
                    offset = end
                    self.frames.append(frame)
                    if not self._answer(frame):
                        return
        except OSError:
            pass  # the client went away
        finally:
            self.sock.close()

    def _read_into(self, buffer: bytearray) -> bool:
        chunk = self.sock.recv(65536)
        buffer += chunk
        return bool(chunk)

    def _answer(self, frame: Received) -> bool:
        """Reply to `frame` as RabbitMQ would; False once the connection is closed."""
        method = frame.method
        if method is None:
            return True  # content of a publish, or a heartbeat
        reply = self._reply(frame, method)
        nowait = method in NOWAIT_AT and frame.arguments(NOWAIT_AT[method])[-1]
        if reply is not None and not nowait:
            self.send(frame.channel, *reply)
        return method != spec.Connection.Close

    def _reply(self, frame: Received, method: Method) -> tuple[Method, bytes] | None:
        match method:
            case spec.Connection.StartOk:
                return spec.Connection.Tune, dumps("BlB", (2047, FRAME_MAX, 0))
            case spec.Connection.Open:
                return spec.Connection.OpenOk, dumps("s", ("",))
            case spec.Connection.Close:
                return spec.Connection.CloseOk, b""
            case spec.Channel.Open:
                return spec.Channel.OpenOk, dumps("S", ("",))
            case spec.Channel.Close:
                return spec.Channel.CloseOk, b""
            case spec.Exchange.Declare:
                return spec.Exchange.DeclareOk, b""
            case spec.Queue.Declare:
                queue = frame.arguments("Bs")[1]
                return spec.Queue.DeclareOk, dumps("sll", (queue, 0, 0))
            case spec.Queue.Bind:
                return spec.Queue.BindOk, b""
            case spec.Basic.Qos:
                return spec.Basic.QosOk, b""
            case spec.Basic.Consume:
                tag = frame.arguments("Bss")[2] or f"amq.ctag-{len(self.consumers) + 1}"
                self.consumers.append((frame.channel, tag))
                return spec.Basic.ConsumeOk, dumps("s", (tag,))
            case spec.Basic.Cancel:
                return spec.Basic.CancelOk, dumps("s", frame.arguments("s"))
            case spec.Confirm.Select:
                return spec.Confirm.SelectOk, b""
        return None  # acks, rejects, publishes: nothing to answer


class FakeBroker:
    """Accepts connections on a loopback port and serves each in a green thread."""

    def __init__(self) -> None:
        self._listener = eventlet.listen(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections: list[BrokerConnection] = []
        self._admitted = Event()
        self._admitted.send(None)
        self._threads = [eventlet.spawn(self._accept)]

    @property
    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def hold_new_connections(self) -> None:
        """Leave connections made from now on unanswered until `admit_new_connections`."""
        self._admitted = Event()

    def admit_new_connections(self) -> None:
        if not self._admitted.ready():
            self._admitted.send(None)

    def stop(self) -> None:
        for thread in self._threads:
            thread.kill()
        for connection in self.connections:
            connection.sock.close()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            sock, _ = self._listener.accept()
            connection = BrokerConnection(sock, self._admitted)
            self.connections.append(connection)
            self._threads.append(eventlet.spawn(connection.serve))


class WaitingSession(LinkSession):
    """A session on a plain channel that notes whether the link was up at each detach."""

    def __init__(self, link: AmqpLink) -> None:
        super().__init__(link)
        self.connected_at_detach: list[bool] = []

    def open(self, connection: amqp.Connection) -> amqp.Channel:
        return connection.channel()

    def detach(self) -> None:
        self.connected_at_detach.append(self.link.connected)
        super().detach()


@pytest.fixture
def broker() -> Iterator[FakeBroker]:
    broker = FakeBroker()
    yield broker
    broker.stop()


@pytest.fixture
def link(broker: FakeBroker) -> Iterator[AmqpLink]:
    """A link to the fake broker, not started yet: a test adds its sessions first."""
    link = AmqpLink(broker.uri, heartbeat=0)
    yield link
    link.stop()


def subscribe(link: AmqpLink, received: list[amqp.Message]) -> QueueSubscription:
    spec = QueueSpec(QUEUE, EXCHANGE, ROUTING_KEY)
    return QueueSubscription(link, spec, PREFETCH, received.append, eventlet.spawn_n)


def connect(link: AmqpLink) -> None:
    link.start()
    assert link.wait_connected(TIMEOUT), "the link did not connect to the fake broker"


def eventually(condition: Callable[[], object], what: str) -> None:
    wait_for(lambda: bool(condition()), TIMEOUT, what)


def channel_id(session: LinkSession) -> int:
    assert session.channel is not None, "the session has no channel"
    return int(session.channel.channel_id)


def test_a_subscription_declares_then_delivers_and_acks_with_our_frames(
    broker: FakeBroker, link: AmqpLink
) -> None:
    received: list[amqp.Message] = []
    subscription = subscribe(link, received)
    connect(link)
    [connection] = broker.connections
    channel = channel_id(subscription)

    assert connection.methods(channel) == DECLARATIONS
    [exchange] = connection.received(spec.Exchange.Declare)
    assert exchange.arguments("Bssbbb") == [0, EXCHANGE, "topic", False, True, False]
    [queue] = connection.received(spec.Queue.Declare)
    assert queue.arguments("Bsbbbb") == [0, QUEUE, False, True, False, False]
    [bind] = connection.received(spec.Queue.Bind)
    assert bind.arguments("Bsss") == [0, QUEUE, EXCHANGE, ROUTING_KEY]
    [qos] = connection.received(spec.Basic.Qos)
    assert qos.arguments("lBb") == [0, PREFETCH, False]
    [consume] = connection.received(spec.Basic.Consume)
    assert consume.arguments("Bssbbb") == [0, QUEUE, "", False, False, False]  # acks wanted
    [consumer] = connection.consumers
    assert consumer[0] == channel

    connection.deliver(consumer, 1, b'{"n":1}')
    connection.deliver(consumer, 2, LARGE)
    eventually(lambda: len(received) == 2, "both messages at on_message")
    assert [message.body for message in received] == [b'{"n":1}', LARGE]
    assert [message.delivery_tag for message in received] == [1, 2]
    assert received[0].properties == {"content_type": "application/json", "delivery_mode": 2}

    subscription.ack(received[1])
    subscription.ack(received[0])
    eventually(lambda: len(connection.received(spec.Basic.Ack)) == 2, "two acks at the broker")
    acks = connection.received(spec.Basic.Ack)
    assert [ack.raw for ack in acks] == [ack_frame(channel, 2), ack_frame(channel, 1)]
    assert [ack.arguments("Lb") for ack in acks] == [[2, False], [1, False]]


def test_a_message_delivered_after_the_cancel_goes_back_to_the_queue(
    broker: FakeBroker, link: AmqpLink
) -> None:
    received: list[amqp.Message] = []
    subscription = subscribe(link, received)
    connect(link)
    [connection] = broker.connections
    [consumer] = connection.consumers

    subscription.cancel()
    eventually(lambda: connection.received(spec.Basic.Cancel), "the cancel at the broker")
    [cancel] = connection.received(spec.Basic.Cancel)
    assert cancel.arguments("sb") == [consumer[1], True]  # nowait: the link's reader answers

    connection.deliver(consumer, 5, b"{}")  # it crossed the cancel on the wire
    eventually(lambda: connection.received(spec.Basic.Reject), "the reject at the broker")
    [reject] = connection.received(spec.Basic.Reject)
    assert reject.raw == reject_frame(consumer[0], 5, requeue=True)
    assert received == []
    assert connection.received(spec.Basic.Ack) == []


def test_a_lost_connection_fails_waiters_then_the_link_reconnects_and_attaches_again(
    broker: FakeBroker, link: AmqpLink
) -> None:
    session = WaitingSession(link)
    subscription = subscribe(link, [])
    connect(link)
    [first] = broker.connections
    waiter = Event()
    session.waiting["reply"] = waiter

    broker.hold_new_connections()
    first.drop()
    with pytest.raises(LinkDown), eventlet.Timeout(TIMEOUT):
        waiter.wait()
    assert session.connected_at_detach == [False]
    assert not link.connected
    assert session.waiting == {} and session.channel is None

    eventually(lambda: len(broker.connections) == 2, "the link dialling the broker again")
    assert not link.connected, "connected before the broker answered the handshake"
    broker.admit_new_connections()
    assert link.wait_connected(TIMEOUT), "the link did not reconnect"
    assert link.connected
    second = broker.connections[1]
    assert second.methods(channel_id(session)) == [spec.Channel.Open]
    assert second.methods(channel_id(subscription)) == DECLARATIONS


def test_a_message_of_the_lost_connection_is_not_acked_on_the_next(
    broker: FakeBroker, link: AmqpLink
) -> None:
    received: list[amqp.Message] = []
    subscription = subscribe(link, received)
    connect(link)
    [first] = broker.connections
    first.deliver(first.consumers[0], 7, b"old")
    eventually(lambda: received, "the first delivery at on_message")

    first.drop()
    eventually(lambda: len(broker.connections) == 2 and link.connected, "a reconnected link")
    second = broker.connections[1]
    channel = channel_id(subscription)
    subscription.ack(received[0])  # the broker put it back in the queue when the link fell

    # Acks go out in order: once the next message's ack arrives, a stray one would have too.
    second.deliver(second.consumers[0], 1, b"new")
    eventually(lambda: len(received) == 2, "the second delivery at on_message")
    subscription.ack(received[1])
    eventually(lambda: second.received(spec.Basic.Ack), "the second ack at the broker")
    assert [frame.raw for frame in second.received(spec.Basic.Ack)] == [ack_frame(channel, 1)]
    assert first.received(spec.Basic.Ack) == []


def test_publishing_without_a_connection_raises_link_down_at_once(
    broker: FakeBroker, link: AmqpLink
) -> None:
    session = WaitingSession(link)
    connect(link)
    [first] = broker.connections
    stale = session.channel
    message = json_message({"n": 1})

    broker.hold_new_connections()
    first.drop()
    eventually(lambda: session.connected_at_detach, "the link to notice the lost connection")
    eventually(lambda: len(broker.connections) == 2, "the link dialling the broker again")
    with eventlet.Timeout(1):  # at once: neither waits for the broker to come back
        with pytest.raises(LinkDown):
            link.publish(session.channel, message, EXCHANGE, ROUTING_KEY)
        with pytest.raises(LinkDown):
            link.publish(stale, message, EXCHANGE, ROUTING_KEY)
        with pytest.raises(LinkDown):
            link.send(stale, ack_frame(1, 1))

    broker.admit_new_connections()
    assert link.wait_connected(TIMEOUT), "the link did not reconnect"
    link.publish(session.channel, message, EXCHANGE, ROUTING_KEY)
    second = broker.connections[1]
    eventually(lambda: second.received(spec.Basic.Publish), "the publish at the broker")
    assert len(second.received(spec.Basic.Publish)) == 1  # nothing failed was sent later
    assert second.received(spec.Basic.Ack) == []
