"""The HTTP request's server span, when tracing is on.

It starts when the app is called, with the client's W3C ``traceparent`` (if any) as its
parent, and stays current in the connection's green thread until the response has been
sent and closed: the worker that handles the request is its child (through the context
data the request hands Nameko), and so is everything logged for the request meanwhile,
the access log line included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from runtime import tracing
from runtime.tracing import TRACE_KEYS


class RequestSpan:
    """One request's server span, from `start` to the close of its response body."""

    def __init__(self, environ: dict[str, Any], request_id: str) -> None:
        method = environ["REQUEST_METHOD"]
        client = {
            key: environ[f"HTTP_{key.upper()}"]
            for key in TRACE_KEYS
            if f"HTTP_{key.upper()}" in environ
        }
        self.span = tracing.start_span(
            method,
            SpanKind.SERVER,
            parent_data=client,
            attributes={"http.request.method": method, "request_id": request_id},
        )
        self._token = tracing.activate(self.span)

    def answered(self, route: str, status: int, api_key: str | None) -> None:
        """Name the span by its route template; note the status and the key's name."""
        if not self.span.is_recording():  # the sampler left this request out
            return
        self.span.update_name(f"{self.span.name} {route}")  # type: ignore[attr-defined]
        attributes: dict[str, str | int] = {
            "http.route": route,
            "http.response.status_code": status,
        }
        if api_key:
            attributes["api_key.name"] = api_key
        self.span.set_attributes(attributes)
        if status >= 500:
            self.span.set_status(Status(StatusCode.ERROR))

    def wrap(self, body: Iterable[bytes]) -> _SpanClosingBody:
        return _SpanClosingBody(body, self)

    def end(self) -> None:
        self.span.end()
        tracing.deactivate(self._token)


class _SpanClosingBody:
    """A response body that ends the request's span when the server closes it."""

    def __init__(self, body: Iterable[bytes], span: RequestSpan) -> None:
        self._body = body
        self._span = span

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._span.end()
