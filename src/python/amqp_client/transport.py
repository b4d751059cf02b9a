"""Socket I/O for a py-amqp connection under eventlet: coalesced writes, buffered reads.

py-amqp sends every frame with its own ``sendall`` and reads every frame with at least
two ``recv`` calls of exactly the bytes it needs: a busy service would make several
system calls per message. `BufferedIO` changes both, without touching the protocol:

* writes are appended to a buffer, and once per pass of the event loop everything
  buffered goes out in a single ``send``, made by the event loop itself (a green
  thread per flush would cost more than the send: Python 3.11 maps fresh memory for
  each new green thread's frames); only what the socket does not take at once is
  left to a green thread that waits for it. A write error is reported to the link,
  which drops the connection (callers waiting for replies or confirms then fail, so
  nothing is reported as done that the broker did not take);
* reads take up to 64 KiB at a time and hand frames out of the buffer: one at a time
  to py-amqp (while it connects and declares), or every complete frame of a read at
  once to the link's reader (`read_frames`).
"""

from __future__ import annotations

import ssl
from typing import Any, Callable

import amqp
import eventlet
from amqp.exceptions import UnexpectedFrame
from amqp.method_framing import frame_writer
from eventlet.green.ssl import GreenSSLSocket
from eventlet.hubs import get_hub

from amqp_client.frames import FRAME_HEADER, Frame

READ_SIZE = 65536
# What a send that would have to wait raises: a plain socket's, or TLS's own.
_WOULD_WAIT = (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError)


def send_without_waiting(sock: Any) -> Callable[[bytes], int]:
    """`sock`'s send that never waits for the socket (the event loop itself calls it).

    Under a green socket, that is the operating system's non-blocking socket; under
    eventlet's green TLS socket, the TLS layer's own send (it raises instead of waiting).
    """
    if isinstance(sock, GreenSSLSocket):
        return lambda data: super(GreenSSLSocket, sock).send(data)
    send: Callable[[bytes], int] = sock.fd.send
    return send


class BufferedIO:
    """Installed on a connected py-amqp connection; from then on it does its socket I/O."""

    def __init__(self, connection: amqp.Connection, on_error: Callable[[Exception], None]) -> None:
        self._sock = connection.transport.sock  # a green socket (a green TLS one: amqps)
        self._send_now = send_without_waiting(self._sock)
        self._on_error = on_error
        self._pending: list[bytes] = []
        self._flushing = False
        self._read_buffer = bytearray()
        # Frames are written through `write` below; reads go through `_read`.
        connection.frame_writer = frame_writer(connection, self)
        connection.transport._read = self._read

    def write(self, data: Any) -> None:
        # py-amqp hands over a view of a buffer it reuses for the next frame: copy it.
        self._pending.append(bytes(data))
        if not self._flushing:
            self._flushing = True
            get_hub().schedule_call_global(0, self._flush)

    def _flush(self) -> None:
        """Send what is buffered without blocking (this runs on the event loop)."""
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            sent = self._send_now(data)
        except _WOULD_WAIT:
            sent = 0
        except OSError as exc:
            self._failed(exc)
            return
        if sent < len(data):
            eventlet.spawn_n(self._send_rest, data[sent:])
        else:
            self._flushing = False

    def _send_rest(self, data: bytes) -> None:
        """Wait until the socket takes `data` and whatever was buffered meanwhile."""
        try:
            while data:
                self._sock.sendall(data)
                data = b"".join(self._pending)
                self._pending.clear()
        except OSError as exc:
            self._failed(exc)
        else:
            self._flushing = False

    def _failed(self, exc: OSError) -> None:
        self._pending.clear()
        self._flushing = False
        self._on_error(exc)

    def read_frames(self) -> list[Frame]:
        """Every complete frame in the buffer, after reading once if there is none.

        Raises ``socket.timeout`` when the socket's timeout passes without data.
        """
        buffer = self._read_buffer
        frames = self._split_frames(buffer)
        while not frames:
            chunk = self._sock.recv(READ_SIZE)
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            buffer += chunk
            frames = self._split_frames(buffer)
        return frames

    @staticmethod
    def _split_frames(buffer: bytearray) -> list[Frame]:
        frames = []
        start, available = 0, len(buffer)
        unpack_from = FRAME_HEADER.unpack_from
        while available - start >= 8:
            frame_type, channel, size = unpack_from(buffer, start)
            end = start + 7 + size
            if end >= available:
                break
            if buffer[end] != 0xCE:
                raise UnexpectedFrame(f"frame end byte missing (0x{buffer[end]:02x})")
            frames.append((frame_type, channel, bytes(buffer[start + 7 : end])))
            start = end + 1
        del buffer[:start]
        return frames

    def _read(self, n: int, initial: bool = False) -> bytes:
        buffer = self._read_buffer
        while len(buffer) < n:
            chunk = self._sock.recv(max(READ_SIZE, n - len(buffer)))
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            buffer += chunk
        frame = bytes(buffer[:n])
        del buffer[:n]  # bytearray drops a prefix without moving the rest
        return frame
