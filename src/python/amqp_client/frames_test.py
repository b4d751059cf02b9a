"""The hand-written frames must be byte for byte what py-amqp itself writes and reads."""

from __future__ import annotations

from typing import Any

import amqp
import pytest
from amqp import spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from amqp_client.frames import InboundFrames, ack_frame, publish_frames, reject_frame
from amqp_client.messages import OutgoingMessage
from amqp_client.transport import BufferedIO

FRAME_MAX = 4096

PROPERTIES: dict[str, Any] = {
    "content_type": "application/json",
    "content_encoding": "utf-8",
    "application_headers": {
        "nameko.request_id": "abc",
        "nameko.call_id_stack": ["gateway.sum.1", "calc.sum.2"],
        "count": 3,
        "flag": True,
    },
    "delivery_mode": 2,
    "correlation_id": "c0ffee",
    "reply_to": "reply-key",
    "expiration": "5000",
    "message_id": "m-1",
}


class FakeConnection:
    def __init__(self, channels: dict[int, Any] | None = None) -> None:
        self.frame_max = FRAME_MAX
        self.bytes_sent = 0
        self.bytes_recv = 0
        self.channels = channels or {}


def py_amqp_frames(
    method: Any, arguments: bytes, content: amqp.Message | None, channel: int = 1
) -> bytes:
    """What py-amqp's own frame writer sends for this method."""
    written: list[bytes] = []

    class Transport:
        def write(self, data: Any) -> None:
            written.append(bytes(data))

    frame_writer(FakeConnection(), Transport())(1, channel, method, arguments, content)
    return b"".join(written)


@pytest.mark.parametrize("body", [b"", b'{"args":[],"kwargs":{}}', b"x" * (3 * FRAME_MAX + 17)])
@pytest.mark.parametrize("mandatory", [True, False])
def test_publish_frames_are_what_py_amqp_writes(body: bytes, mandatory: bool) -> None:
    ours = publish_frames(
        7, FRAME_MAX, "nameko-rpc", "calc.sum", mandatory, OutgoingMessage(body, PROPERTIES)
    )
    arguments = dumps("Bssbb", (0, "nameko-rpc", "calc.sum", mandatory, False))
    theirs = py_amqp_frames(spec.Basic.Publish, arguments, amqp.Message(body, **PROPERTIES), 7)
    assert ours == theirs


def test_unset_properties_are_left_out() -> None:
    message = OutgoingMessage(b"{}", {"delivery_mode": 1, "correlation_id": None})
    ours = publish_frames(1, FRAME_MAX, "", "q", False, message)
    arguments = dumps("Bssbb", (0, "", "q", False, False))
    theirs = py_amqp_frames(spec.Basic.Publish, arguments, amqp.Message(b"{}", delivery_mode=1))
    assert ours == theirs


def test_properties_this_module_does_not_write_are_refused() -> None:
    with pytest.raises(ValueError, match="timestamp"):
        publish_frames(1, FRAME_MAX, "", "q", False, OutgoingMessage(b"", {"timestamp": 1}))


def test_ack_and_reject_frames_are_what_py_amqp_writes() -> None:
    assert ack_frame(3, 2**40) == py_amqp_frames(
        spec.Basic.Ack, dumps("Lb", (2**40, False)), None, 3
    )
    assert ack_frame(3, 9, multiple=True) == py_amqp_frames(
        spec.Basic.Ack, dumps("Lb", (9, True)), None, 3
    )
    for requeue in (True, False):
        assert reject_frame(2, 5, requeue) == py_amqp_frames(
            spec.Basic.Reject, dumps("Lb", (5, requeue)), None, 2
        )


class RecordingChannel:
    def __init__(self, closing: bool = False) -> None:
        self.is_closing = closing
        self.delivered: list[tuple[Any, ...]] = []
        self.acked: list[tuple[int, bool]] = []

    def _on_basic_deliver(self, *arguments: Any) -> None:
        self.delivered.append(arguments)

    def _on_basic_ack(self, delivery_tag: int, multiple: bool) -> None:
        self.acked.append((delivery_tag, multiple))


def frames_of(data: bytes) -> list[tuple[int, int, bytes]]:
    return BufferedIO._split_frames(bytearray(data))


def deliver_frames(body: bytes, channel: int = 1) -> bytes:
    arguments = dumps("sLbss", ("ctag-1", 42, True, "nameko-rpc", "calc.sum"))
    return py_amqp_frames(spec.Basic.Deliver, arguments, amqp.Message(body, **PROPERTIES), channel)


@pytest.mark.parametrize("body", [b"", b"[1,2,3]", b"y" * (2 * FRAME_MAX)])
def test_a_delivery_reaches_the_channel_whole(body: bytes) -> None:
    channel = RecordingChannel()
    fallback: list[Any] = []
    connection: Any = FakeConnection({1: channel})
    dispatch = InboundFrames(connection, fallback.append)
    frames = frames_of(deliver_frames(body))
    for frame in frames:
        dispatch(frame)
    assert fallback == []
    assert connection.bytes_recv == len(frames)
    [(consumer_tag, delivery_tag, redelivered, exchange, routing_key, message)] = channel.delivered
    assert (consumer_tag, delivery_tag, redelivered) == ("ctag-1", 42, True)
    assert (exchange, routing_key) == ("nameko-rpc", "calc.sum")
    assert message.body == body
    assert message.properties == PROPERTIES


def test_confirms_reach_the_channel() -> None:
    channel = RecordingChannel()
    connection: Any = FakeConnection({1: channel})
    dispatch = InboundFrames(connection, lambda frame: None)
    for frame in frames_of(ack_frame(1, 17, multiple=True) + ack_frame(1, 18)):
        dispatch(frame)
    assert channel.acked == [(17, True), (18, False)]


def test_other_frames_and_closing_channels_go_to_py_amqp() -> None:
    open_channel, closing = RecordingChannel(), RecordingChannel(closing=True)
    fallback: list[Any] = []
    connection: Any = FakeConnection({1: open_channel, 2: closing})
    dispatch = InboundFrames(connection, fallback.append)
    returned = py_amqp_frames(
        spec.Basic.Return,
        dumps("Bsss", (312, "NO_ROUTE", "nameko-rpc", "nobody.sum")),
        amqp.Message(b"{}", correlation_id="c"),
    )
    data = returned + deliver_frames(b"late", channel=2) + ack_frame(2, 1)
    for frame in frames_of(data):
        dispatch(frame)
    assert fallback == frames_of(data)
    assert open_channel.delivered == closing.delivered == closing.acked == []


def test_frames_are_split_at_their_ends_and_a_partial_one_waits() -> None:
    data = ack_frame(1, 1) + ack_frame(1, 2)
    buffer = bytearray(data + data[:5])
    assert [frame[2] for frame in BufferedIO._split_frames(buffer)] == [
        ack_frame(1, 1)[7:-1],
        ack_frame(1, 2)[7:-1],
    ]
    assert buffer == bytearray(data[:5])


def test_a_frame_without_its_end_byte_is_refused() -> None:
    with pytest.raises(amqp.exceptions.UnexpectedFrame):
        BufferedIO._split_frames(bytearray(ack_frame(1, 1)[:-1] + b"\x00"))
