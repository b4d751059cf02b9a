"""The AMQP 0-9-1 frames on the hot path, encoded and decoded without py-amqp's generic code.

Every request crosses the broker several times (an RPC request, its reply, an event, the
event's confirm, two acks), and py-amqp builds and parses each of those frames through its
generic, table-driven serializer, which costs more CPU than the rest of a publish (see
docs/benchmark.md). This module writes and reads just those frames directly:

* `publish_frames`: ``basic.publish`` with its content header and body frames, as bytes;
* `ack_frame` and `reject_frame`: settling a delivery;
* `InboundFrames`: dispatches ``basic.deliver`` (with its content) and ``basic.ack`` to the
  channel's own handlers, and hands every other frame to py-amqp's frame handler.

py-amqp still owns the connection: the handshake, declarations, heartbeats, closing.
"""

from __future__ import annotations

from struct import Struct
from typing import Any, Callable, Mapping

import amqp
from amqp.serialization import decode_properties_basic, dumps

from amqp_client.messages import OutgoingMessage

FRAME_END = b"\xce"
FRAME_HEADER = Struct(">BHI")
METHOD, HEADER, BODY = 1, 2, 3
BASIC = 60
BASIC_PUBLISH, BASIC_DELIVER, BASIC_ACK, BASIC_REJECT = 40, 60, 80, 90

_METHOD_FRAME = Struct(">BHIHH")
_ACK = Struct(">BHIHHQBB")
_CONTENT_HEADER = Struct(">BHIHHQ")
_DELIVERY_TAG = Struct(">QB")
_CONTENT_SIZE = Struct(">Q")

# Basic content properties in wire order: (name, flag bit, kind). The kinds used here:
# "s" shortstr, "o" octet, "F" field table.
_PROPERTIES = (
    ("content_type", 0x8000, "s"),
    ("content_encoding", 0x4000, "s"),
    ("application_headers", 0x2000, "F"),
    ("delivery_mode", 0x1000, "o"),
    ("priority", 0x0800, "o"),
    ("correlation_id", 0x0400, "s"),
    ("reply_to", 0x0200, "s"),
    ("expiration", 0x0100, "s"),
    ("message_id", 0x0080, "s"),
)
_KNOWN_PROPERTIES = frozenset(name for name, _, _ in _PROPERTIES)


def shortstr(value: str) -> bytes:
    data = value.encode()
    if len(data) > 255:
        raise ValueError(f"AMQP short strings hold at most 255 bytes: {value[:40]!r}...")
    return bytes((len(data),)) + data


def encode_properties(properties: Mapping[str, Any]) -> bytes:
    """The property flags and values of a content header."""
    unknown = properties.keys() - _KNOWN_PROPERTIES
    if unknown:
        raise ValueError(f"unsupported message properties: {sorted(unknown)}")
    flags = 0
    parts = [b""]
    for name, bit, kind in _PROPERTIES:
        value = properties.get(name)
        if value is None:
            continue
        flags |= bit
        if kind == "s":
            parts.append(shortstr(value))
        elif kind == "o":
            parts.append(bytes((value,)))
        else:
            parts.append(dumps("F", [value]))
    parts[0] = flags.to_bytes(2, "big")
    return b"".join(parts)


def method_frame(channel_id: int, class_id: int, method_id: int, arguments: bytes) -> bytes:
    return (
        _METHOD_FRAME.pack(METHOD, channel_id, 4 + len(arguments), class_id, method_id)
        + arguments
        + FRAME_END
    )


def publish_frames(
    channel_id: int,
    frame_max: int,
    exchange: str,
    routing_key: str,
    mandatory: bool,
    message: OutgoingMessage,
) -> bytes:
    """``basic.publish``, its content header and its body (split by ``frame_max``)."""
    body = message.body
    arguments = b"\x00\x00" + shortstr(exchange) + shortstr(routing_key) + bytes((mandatory,))
    properties = encode_properties(message.properties)
    header = _CONTENT_HEADER.pack(HEADER, channel_id, 12 + len(properties), BASIC, 0, len(body))
    frames = [
        method_frame(channel_id, BASIC, BASIC_PUBLISH, arguments),
        header,
        properties,
        FRAME_END,
    ]
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        frames += (FRAME_HEADER.pack(BODY, channel_id, len(piece)), piece, FRAME_END)
    return b"".join(frames)


def ack_frame(channel_id: int, delivery_tag: int, multiple: bool = False) -> bytes:
    return _ACK.pack(METHOD, channel_id, 13, BASIC, BASIC_ACK, delivery_tag, multiple, 0xCE)


def reject_frame(channel_id: int, delivery_tag: int, requeue: bool) -> bytes:
    return _ACK.pack(METHOD, channel_id, 13, BASIC, BASIC_REJECT, delivery_tag, requeue, 0xCE)


Frame = tuple[int, int, bytes]


class _Delivery:
    __slots__ = ("channel", "arguments", "properties", "size", "chunks")

    def __init__(self, channel: amqp.Channel, arguments: tuple[Any, ...]) -> None:
        self.channel = channel
        self.arguments = arguments
        self.properties: dict[str, Any] = {}
        self.size = 0
        self.chunks: list[bytes] = []


class InboundFrames:
    """Dispatches the frames read from one connection.

    Deliveries and publisher confirms take the direct route to the channel's handlers
    (``Channel._on_basic_deliver`` and ``_on_basic_ack``, so consumer callbacks and
    ``events["basic_ack"]`` work as with py-amqp's dispatch). A delivery's body is left
    as bytes. Every other frame, and any frame for a channel that is closing, goes to
    `fallback` (py-amqp's own frame handler).
    """

    def __init__(self, connection: amqp.Connection, fallback: Callable[[Frame], Any]) -> None:
        self._connection = connection
        self._fallback = fallback
        self._deliveries: dict[int, _Delivery] = {}

    def __call__(self, frame: Frame) -> None:
        frame_type, channel_id, payload = frame
        delivery = self._deliveries.get(channel_id)
        if delivery is not None and frame_type != METHOD:
            self._content(channel_id, delivery, frame_type, payload)
            return
        if frame_type == METHOD and payload[:2] == b"\x00\x3c":  # class 60, basic
            channel = self._connection.channels.get(channel_id)
            if channel is not None and not channel.is_closing:
                method_id = payload[3]
                if method_id == BASIC_DELIVER and payload[2] == 0:
                    self._connection.bytes_recv += 1
                    self._deliveries[channel_id] = _Delivery(channel, _deliver_arguments(payload))
                    return
                if method_id == BASIC_ACK and payload[2] == 0:
                    self._connection.bytes_recv += 1
                    delivery_tag, multiple = _DELIVERY_TAG.unpack_from(payload, 4)
                    channel._on_basic_ack(delivery_tag, bool(multiple))
                    return
        self._fallback(frame)

    def _content(
        self, channel_id: int, delivery: _Delivery, frame_type: int, payload: bytes
    ) -> None:
        self._connection.bytes_recv += 1
        if frame_type == HEADER:
            (delivery.size,) = _CONTENT_SIZE.unpack_from(payload, 4)
            delivery.properties = decode_properties_basic(payload, 12)[0]
        elif frame_type == BODY:
            delivery.chunks.append(payload)
        else:
            raise amqp.exceptions.UnexpectedFrame(f"frame type {frame_type} inside a delivery")
        received = sum(map(len, delivery.chunks))
        if received < delivery.size:
            return
        del self._deliveries[channel_id]
        body = delivery.chunks[0] if len(delivery.chunks) == 1 else b"".join(delivery.chunks)
        message = amqp.Message(body, **delivery.properties)
        delivery.channel._on_basic_deliver(*delivery.arguments, message)


def _deliver_arguments(payload: bytes) -> tuple[str, int, bool, str, str]:
    """consumer_tag, delivery_tag, redelivered, exchange, routing_key."""
    offset = 4
    length = payload[offset]
    consumer_tag = payload[offset + 1 : offset + 1 + length].decode()
    offset += 1 + length
    delivery_tag, redelivered = _DELIVERY_TAG.unpack_from(payload, offset)
    offset += 9
    length = payload[offset]
    exchange = payload[offset + 1 : offset + 1 + length].decode()
    offset += 1 + length
    length = payload[offset]
    routing_key = payload[offset + 1 : offset + 1 + length].decode()
    return consumer_tag, delivery_tag, bool(redelivered), exchange, routing_key
