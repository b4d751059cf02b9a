"""The py-amqp internals the AMQP client reaches into, checked against the locked py-amqp.

py-amqp keeps the handshake, declarations and closing, but `amqp_client` takes over its
socket I/O and its busiest frames: `transport.BufferedIO` installs its own frame writer and
read function on a connection, `frames.InboundFrames` counts frames in py-amqp's traffic
counters and calls a channel's delivery and confirm handlers directly, and `link` reads
the socket under the transport. None of this is py-amqp's public API. If an upgrade
reshapes one of these hooks, its test here fails and names it, rather than a connection
hanging or a message going unacknowledged in production.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from struct import pack
from types import SimpleNamespace
from typing import Any, Callable

import amqp
import amqp.connection
import eventlet
import pytest
from amqp import spec
from amqp.method_framing import frame_handler, frame_writer
from amqp.serialization import decode_properties_basic, dumps
from amqp.transport import TCPTransport
from eventlet.greenio import GreenSocket

from amqp_client.frames import ack_frame, encode_properties
from amqp_client.transport import BufferedIO

VERSION = amqp.__version__


def changed(hook: str, assumption: str) -> str:
    return f"py-amqp {VERSION} changed {hook}: amqp_client assumes {assumption}"


@contextmanager
def expecting(hook: str, assumption: str) -> Iterator[None]:
    """Report an error raised inside py-amqp as a failure naming the hook."""
    try:
        yield
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{changed(hook, assumption)}; it raised {exc!r}") from exc


def fresh_channel() -> tuple[amqp.Connection, amqp.Channel]:
    """A connection that never connects, with channel 1 on it (not opened)."""
    connection = amqp.Connection()
    return connection, amqp.Channel(connection, 1)


def written_by_py_amqp(channel: int, method: Any, arguments: bytes, content: Any) -> bytes:
    written: list[bytes] = []
    connection = SimpleNamespace(frame_max=4096, bytes_sent=0)
    transport = SimpleNamespace(write=lambda data: written.append(bytes(data)))
    frame_writer(connection, transport)(1, channel, method, arguments, content)
    return b"".join(written)


# What we call (or replace) and the leading parameters we rely on, by position; any
# parameter after those must be optional.
SIGNATURES: dict[str, tuple[Callable[..., Any], str]] = {
    "Channel._on_basic_deliver": (
        amqp.Channel._on_basic_deliver,
        "self, consumer_tag, delivery_tag, redelivered, exchange, routing_key, msg",
    ),
    "Channel._on_basic_ack": (amqp.Channel._on_basic_ack, "self, delivery_tag, multiple"),
    "TCPTransport._read": (TCPTransport._read, "self, n, initial=False"),
    "method_framing.frame_writer": (frame_writer, "connection, transport"),
    "serialization.decode_properties_basic": (decode_properties_basic, "buf, offset"),
    "serialization.dumps": (dumps, "format, values"),
}


@pytest.mark.parametrize("hook", SIGNATURES)
def test_signature(hook: str) -> None:
    function, expected = SIGNATURES[hook]
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    count = len(expected.split(", "))
    leading = ", ".join(str(parameter) for parameter in parameters[:count])
    required_after = [
        parameter.name
        for parameter in parameters[count:]
        if parameter.default is parameter.empty
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    assert leading == expected and not required_after, changed(
        hook, f"the signature ({expected}, ...), but it is now {signature}"
    )


# Connection properties the client assigns (a setter is needed) or reads.
CONNECTION_PROPERTIES = {
    "frame_writer": "assigned by BufferedIO",
    "on_inbound_frame": "read by AmqpLink as InboundFrames' fallback",
    "transport": "read by BufferedIO and AmqpLink",
    "sock": "read by AmqpLink._abandon",
}


@pytest.mark.parametrize("name", CONNECTION_PROPERTIES)
def test_connection_property(name: str) -> None:
    attribute = inspect.getattr_static(amqp.Connection, name, None)
    hook, use = f"Connection.{name}", CONNECTION_PROPERTIES[name]
    assert isinstance(attribute, property), changed(hook, f"it is a property ({use})")
    if name == "frame_writer":
        assert attribute.fset is not None, changed(hook, f"it can be assigned ({use})")


# Attributes of a connection and its channels that the client reads or updates.
ATTRIBUTES: dict[str, tuple[Callable[[amqp.Connection, amqp.Channel], bool], str]] = {
    "Connection.channels": (
        lambda connection, channel: connection.channels == {0: connection, 1: channel},
        "a dict of channel id to channel (InboundFrames finds a delivery's channel there)",
    ),
    "Connection.bytes_sent": (
        lambda connection, channel: connection.bytes_sent == 0,
        "an int counter we add our own frames to",
    ),
    "Connection.bytes_recv": (
        lambda connection, channel: connection.bytes_recv == 0,
        "an int counter we add our own frames to",
    ),
    "Channel.is_closing": (
        lambda connection, channel: channel.is_closing is False,
        "a bool, False on an open channel (frames for a closing one go to py-amqp)",
    ),
    "Channel.events": (
        lambda connection, channel: isinstance(channel.events, defaultdict)
        and channel.events.default_factory is set,
        "a defaultdict(set) of callbacks by event name ('basic_ack', 'basic_return')",
    ),
    "Channel.connection and channel_id": (
        lambda connection, channel: channel.connection is connection and channel.channel_id == 1,
        "a channel knows its connection (a stale one is refused) and its number",
    ),
}


@pytest.mark.parametrize("hook", ATTRIBUTES)
def test_attribute(hook: str) -> None:
    check, assumption = ATTRIBUTES[hook]
    connection, channel = fresh_channel()
    with expecting(hook, assumption):
        assert check(connection, channel), changed(hook, assumption)


def test_frame_writer_writes_each_frame_through_transport_write() -> None:
    written: list[bytes] = []
    connection = SimpleNamespace(frame_max=4096, bytes_sent=0)
    transport = SimpleNamespace(write=lambda data: written.append(bytes(data)))
    hook = "method_framing.frame_writer(connection, transport)"
    assumption = "the writer it returns sends each frame through transport.write"
    with expecting(hook, assumption):
        frame_writer(connection, transport)(1, 3, spec.Basic.Ack, dumps("Lb", (9, False)), None)
    assert written == [ack_frame(3, 9)], changed(hook, assumption)
    assert connection.bytes_sent == 1, changed(hook, "it counts each frame in bytes_sent")


def test_channel_methods_go_through_the_connections_frame_writer() -> None:
    connection, channel = fresh_channel()
    written: list[tuple[Any, ...]] = []
    hook = "Connection.frame_writer"
    assumption = "a channel's methods are written through it (BufferedIO's, once installed)"
    with expecting(hook, assumption):
        connection.frame_writer = lambda *frame: written.append(frame)
        channel.basic_cancel("ctag-1", nowait=True)
    cancel = (1, 1, spec.Basic.Cancel, dumps("sb", ("ctag-1", True)), None)
    assert written == [cancel], changed(hook, assumption)


def test_read_frame_reads_through_the_transports_read_attribute() -> None:
    data = bytearray(ack_frame(3, 9))
    calls: list[tuple[int, bool]] = []

    def read(n: int, initial: bool = False) -> bytes:
        calls.append((n, initial))
        chunk = bytes(data[:n])
        del data[:n]
        return chunk

    transport = TCPTransport("127.0.0.1:5672")
    transport._read = read  # what BufferedIO installs
    hook = "TCPTransport.read_frame"
    assumption = "it reads a frame through the transport's _read, replaced on the instance"
    with expecting(hook, assumption):
        frame = transport.read_frame()
    assert frame == (1, 3, ack_frame(3, 9)[7:-1]), changed(hook, assumption)
    assert data == b"", changed(hook, "every byte of a frame comes through _read")
    assert calls[0] == (7, True), changed(hook, "it calls _read(n, initial)")


def test_transport_sock_is_a_green_socket_over_a_non_blocking_one() -> None:
    listener = eventlet.listen(("127.0.0.1", 0))
    transport = TCPTransport(f"127.0.0.1:{listener.getsockname()[1]}", connect_timeout=2)
    try:
        transport.connect()
        server, _ = listener.accept()
        with server:
            assert server.recv(8) == b"AMQP\x00\x00\x09\x01"
        hook = "transport.sock"
        assert isinstance(transport.sock, GreenSocket), changed(
            hook, "it is made by the socket module, which eventlet patches (pytest-eventlet)"
        )
        assert transport.sock.fd.gettimeout() == 0.0, changed(
            hook, "its .fd is the non-blocking socket BufferedIO sends on from the event loop"
        )
    finally:
        transport.close()
        listener.close()


def test_connection_sock_is_the_transports() -> None:
    connection = amqp.Connection()
    sock = object()
    connection.transport = SimpleNamespace(sock=sock)
    with expecting("Connection.sock", "it is transport.sock"):
        assert connection.sock is sock, changed("Connection.sock", "it is transport.sock")


def test_deliver_handler_marks_the_message_and_calls_its_consumer() -> None:
    connection, channel = fresh_channel()
    connection.frame_writer = lambda *frame: None
    consumed: list[amqp.Message] = []
    channel.basic_consume("q", consumer_tag="ctag-1", nowait=True, callback=consumed.append)
    message = amqp.Message(b"{}")
    hook = "Channel._on_basic_deliver"
    with expecting(hook, "InboundFrames can call it with a whole delivery"):
        channel._on_basic_deliver("ctag-1", 42, True, "nameko-rpc", "calc.sum", message)
    assert consumed == [message], changed(hook, "it calls the consumer's callback")
    assert message.channel is channel, changed(hook, "it sets message.channel")
    assert message.delivery_tag == 42, changed(hook, "it sets message.delivery_tag")
    assert message.delivery_info == {
        "consumer_tag": "ctag-1",
        "delivery_tag": 42,
        "redelivered": True,
        "exchange": "nameko-rpc",
        "routing_key": "calc.sum",
    }, changed(hook, "it fills message.delivery_info")


def test_ack_handler_calls_the_basic_ack_callbacks() -> None:
    _, channel = fresh_channel()
    acked: list[tuple[int, bool]] = []
    channel.events["basic_ack"].add(lambda tag, multiple: acked.append((tag, multiple)))
    hook = "Channel._on_basic_ack"
    assumption = "it calls each events['basic_ack'] callback(tag, multiple)"
    with expecting(hook, assumption):
        channel._on_basic_ack(17, True)
    assert acked == [(17, True)], changed(hook, assumption)


def test_py_amqp_frame_handler_takes_the_frames_we_split() -> None:
    hook = "Connection's frame handler (on_inbound_frame)"
    default = inspect.signature(amqp.Connection).parameters["frame_handler"].default
    assert default is frame_handler, changed(hook, "it is method_framing.frame_handler")
    connection, channel = fresh_channel()
    returned: list[tuple[Any, ...]] = []
    channel.events["basic_return"].add(lambda *arguments: returned.append(arguments))
    on_frame = frame_handler(connection, connection.on_inbound_method)
    arguments = dumps("Bsss", (312, "NO_ROUTE", "nameko-rpc", "nobody.sum"))
    message = amqp.Message(b"{}", correlation_id="c")
    data = written_by_py_amqp(1, spec.Basic.Return, arguments, message)
    assumption = "it takes (type, channel, payload bytes) tuples, one at a time"
    with expecting(hook, assumption):
        for frame in BufferedIO._split_frames(bytearray(data)):
            on_frame(frame)
    assert [(exchange, key, body.body) for _, exchange, key, body in returned] == [
        ("nameko-rpc", "nobody.sum", b"{}")
    ], changed(hook, assumption)


def test_decode_properties_basic_reads_the_properties_we_write() -> None:
    properties = {
        "content_type": "application/json",
        "application_headers": {"nameko.call_id_stack": ["gateway.sum.1"], "n": 3},
        "delivery_mode": 2,
        "correlation_id": "c0ffee",
    }
    payload = pack(">HHQ", 60, 0, 5) + encode_properties(properties)
    hook = "serialization.decode_properties_basic(buf, offset)"
    assumption = "it returns (properties, end offset) for the flags and values at offset"
    with expecting(hook, assumption):
        decoded, end = decode_properties_basic(payload, 12)
    assert (decoded, end) == (properties, len(payload)), changed(hook, assumption)


def test_heartbeat_tick_counts_bytes_sent_and_bytes_recv_as_traffic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our frames bypass py-amqp's counting; we add them to its counters, which must be what
    heartbeat_tick reads, or a busy link would send needless heartbeats and then drop."""
    hook = "Connection.heartbeat_tick"
    assert callable(getattr(amqp.connection, "monotonic", None)), changed(
        hook, "it reads the clock as amqp.connection.monotonic (this test sets it)"
    )
    now = [100.0]
    monkeypatch.setattr(amqp.connection, "monotonic", lambda: now[0])
    connection = amqp.Connection(heartbeat=10)
    connection.heartbeat = 10  # as negotiated in Tune
    written: list[tuple[Any, ...]] = []
    connection.frame_writer = lambda *frame: written.append(frame)
    traffic = "frames counted in bytes_sent and bytes_recv count as traffic"
    connection.heartbeat_tick()
    for _ in range(4):  # frames both ways every 10 s: no heartbeat due, none missed
        now[0] += 10
        connection.bytes_sent += 1
        connection.bytes_recv += 1
        with expecting(hook, traffic):
            connection.heartbeat_tick()
    assert written == [], changed(hook, traffic)
    now[0] += 10
    connection.heartbeat_tick()
    assert written == [(8, 0, None, None, None)], changed(
        hook, "it sends a heartbeat through frame_writer after heartbeat/2 s without frames"
    )
    now[0] += 15  # 25 s without a frame counted in bytes_recv
    try:
        connection.heartbeat_tick()
    except amqp.exceptions.ConnectionForced:
        pass
    else:
        pytest.fail(changed(hook, "it raises ConnectionForced after 2 heartbeats without frames"))
