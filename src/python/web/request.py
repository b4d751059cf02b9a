"""One HTTP request on a server connection: its body and its response.

A `Request` is the WSGI app's ``wsgi.input``, reading the body from the connection only
as the app asks and never past its end, and the ``start_response`` whose head and body
go out in as few writes as the response allows (one for a JSON answer).
"""

from __future__ import annotations

import logging
import sys
import time
from email.utils import formatdate
from typing import Any, Callable, Protocol

_log = logging.getLogger(__name__)  # the access log (ACCESS_LOG)

# An unread body remainder up to this size is read and dropped to keep the connection;
# past it (or a chunked one) the connection closes instead.
DISCARD_LIMIT = 65536


class RequestSource(Protocol):
    """The connection a request arrived on, as the request sees it."""

    sock: Any
    client: str
    closing: bool

    def fill(self, request: Request, size: int) -> None:
        """Receive until `request` has `size` body bytes buffered, or its body ended."""


class Request:
    """One request: its body as ``wsgi.input``, and the app's response.

    It keeps no reference to its environ, which holds it as ``wsgi.input``: without
    that cycle a served request is freed at once, not left to the garbage collector.
    """

    __slots__ = (
        "connection", "raw_uri", "body_length", "version", "method", "keep_alive",
        "expect_continue",
        "buffer", "complete", "failed", "discarding", "error", "status", "headers",
        "head_sent", "chunked", "close", "sent_bytes",
    )  # fmt: skip

    def __init__(
        self, connection: RequestSource, environ: dict[str, Any], version: str, keep_alive: bool
    ) -> None:
        self.connection = connection
        self.raw_uri = ""
        self.body_length: str | None = environ.get("CONTENT_LENGTH")
        self.version = version
        self.method = ""
        self.keep_alive = keep_alive
        self.expect_continue = (
            version == "1.1" and environ.get("HTTP_EXPECT", "").lower() == "100-continue"
        )
        self.buffer = bytearray()
        self.complete = False
        self.failed = False  # the body ended early: the client closed, or sent garbage
        self.discarding = False
        self.error: BaseException | None = None
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.head_sent = False
        self.chunked = False
        self.close = False
        self.sent_bytes = 0
        environ["wsgi.input"] = self

    # wsgi.input: reads from the socket on demand, never past this request's body.

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = sys.maxsize
        if len(self.buffer) < size and not self.complete:
            self.connection.fill(self, size)
        if size >= len(self.buffer):
            data = bytes(self.buffer)
            self.buffer.clear()
        else:
            data = bytes(self.buffer[:size])
            del self.buffer[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = sys.maxsize if size is None or size < 0 else size
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self.read(end + 1)
            if len(self.buffer) >= limit or self.complete or self.failed:
                return self.read(limit)
            self.connection.fill(self, len(self.buffer) + 1)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        for line in iter(self.readline, b""):
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    # The response.

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info and self.head_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """WSGI's legacy ``write``: sends at once, before the app's iterable."""
        self.send([data], final=False)

    def send(self, chunks: list[bytes], final: bool) -> None:
        """Send body bytes, after the head if it is not sent yet."""
        if not self.status:
            raise RuntimeError("the app sent a body before start_response")
        status = int(self.status[:3])
        bodyless = self.method == "HEAD" or status in (204, 304) or status < 200
        body = b"" if bodyless else b"".join(chunks)
        head = b""
        if not self.head_sent:
            head = self._head(status, bodyless, len(body) if final else None)
            self.head_sent = True
        if self.chunked:
            body = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
            body += b"0\r\n\r\n" if final else b""
        if head or body:
            self.connection.sock.sendall(head + body)
            self.sent_bytes += len(head) + len(body)

    def _head(self, status: int, bodyless: bool, length: int | None) -> bytes:
        connection = self.connection
        close = not self.keep_alive or connection.closing or self.failed or self.error is not None
        lines = [f"HTTP/1.1 {self.status}\r\n"]
        has_length = app_closes = False
        for name, value in self.headers:
            lines.append(f"{name}: {value}\r\n")
            lower = name.lower()
            if lower == "content-length":
                has_length = True
            elif lower == "connection" and "close" in value.lower():
                close = app_closes = True
        if not has_length and not bodyless:
            if length is not None:
                lines.append(f"Content-Length: {length}\r\n")
            elif self.version == "1.1":
                lines.append("Transfer-Encoding: chunked\r\n")
                self.chunked = True
            else:
                close = True  # an HTTP/1.0 client reads such a body to the end of the stream
        if not self.complete:
            # A client that expects a 100 Continue may or may not send the body now;
            # a large or chunked rest of a body is not worth reading just to drop it.
            body_length = int(self.body_length) if self.body_length else sys.maxsize
            if self.expect_continue or body_length > DISCARD_LIMIT:
                close = True
        lines.append(_date_header())
        if close and not app_closes:
            lines.append("Connection: close\r\n")
        elif self.version == "1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        head = "".join(lines)
        if head.count("\n") != len(lines):
            raise ValueError("a response header contains a line break")
        self.close = close
        return head.encode("latin-1")

    def log(self, seconds: float) -> None:
        _log.info(
            '%s "%s %s HTTP/%s" %s %d %.6f',
            self.connection.client,
            self.method,
            self.raw_uri,
            self.version,
            self.status[:3],
            self.sent_bytes,
            seconds,
        )


_date: tuple[int, str] = (0, "")


def _date_header() -> str:
    """The ``Date`` header line, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, f"Date: {formatdate(now, usegmt=True)}\r\n")
    return _date[1]
