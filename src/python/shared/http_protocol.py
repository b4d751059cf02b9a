"""The HTTP/1.1 protocol handler under the JSON app: its own errors are JSON too.

eventlet's server answers some malformed requests itself, before any WSGI app runs:
a request line over the URL length limit (414), header lines or header blocks that
are too large, a bad ``Content-Length``, or a request line it cannot parse. It sends
those as bare status lines or HTML pages. This subclass sends the same statuses with
the API's JSON error body, a fresh ``X-Request-ID``, and ``Connection: close``.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from eventlet.wsgi import HeaderLineTooLong, HeadersTooLarge
from nameko.web.server import HttpOnlyProtocol

from shared.request_id import new_request_id


class JsonErrorsProtocol(HttpOnlyProtocol):
    """eventlet's protocol with JSON bodies on the errors it sends itself."""

    def _read_request_line(self) -> Any:
        line = super()._read_request_line()
        if line and len(line) >= self.server.url_length_limit:
            self._refuse(414, "uri_too_long", "the request line is too long")
            return ""
        return line

    def parse_request(self) -> bool:
        try:
            parsed: bool = super().parse_request()
        except HeaderLineTooLong:
            self._refuse(431, "header_too_large", "a request header line is too long")
            return False
        except HeadersTooLarge:
            self._refuse(431, "header_too_large", "the request headers are too large")
            return False
        if not parsed:
            return False
        length = self.headers.get("content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            self._refuse(400, "bad_request", "Content-Length must be a non-negative integer")
            return False
        if length is not None and self.headers.get("transfer-encoding") is not None:
            self._refuse(400, "bad_request", "send Content-Length or Transfer-Encoding, not both")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        status = HTTPStatus(code)
        reason = status.phrase.lower().replace(" ", "_").replace("-", "_")
        self._refuse(code, reason, message or status.phrase)

    def _refuse(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode() + b"\n"
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Request-ID: {new_request_id()}\r\n"
            "Connection: close\r\n\r\n"
        )
        self.wfile.write(head.encode("ascii") + body)
        self.close_connection = 1
