"""The ``sum_computed`` event: where it goes, and the schema of its payload."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.numbers import Number
from domain.schemas import NUMBER, SUM, Schema
from messaging.errors import Unprocessable
from messaging.queues import EventRoute, handler_queue


class InvalidEvent(Unprocessable, ValueError):
    """An event payload does not match its schema: it is dead-lettered, never redelivered."""


SUM_COMPUTED = EventRoute(
    source="gateway",
    event_type="sum_computed",
    durable_queues=(handler_queue("gateway", "sum_computed", "log", "record_sum"),),
    dead_letters=True,
)


_TEXT = {"type": "string", "minLength": 1}

SUM_COMPUTED_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event_id", "request_id", "occurred_at", "numbers", "result"],
    "properties": {
        "event_id": {**_TEXT, "description": "Unique: log stores an event id once."},
        "request_id": _TEXT,
        "occurred_at": {**_TEXT, "format": "date-time"},
        "numbers": {"type": "array", "items": NUMBER},
        "result": SUM,
    },
}
"""A `SumComputed` payload as the gateway sends it. log dead-letters one with other fields,
or with an empty id or time (`SumComputed.from_payload`)."""


@dataclass(frozen=True)
class SumComputed:
    """The gateway computed a sum for a request; `log` records one entry per event."""

    event_id: str
    request_id: str
    occurred_at: str
    numbers: list[Number]
    result: Number

    @classmethod
    def new(cls, request_id: str, numbers: list[Number], result: Number) -> SumComputed:
        return cls(
            event_id=secrets.token_hex(16),
            request_id=request_id,
            occurred_at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            numbers=numbers,
            result=result,
        )

    def to_payload(self) -> dict[str, Any]:
        # A shallow copy: dataclasses.asdict deep-copies, at several times the cost.
        return dict(vars(self))

    @classmethod
    def from_payload(cls, payload: Any) -> SumComputed:
        """Parse a received payload; raise `InvalidEvent` if it is not one of ours."""
        if not isinstance(payload, dict):
            raise InvalidEvent(f"expected an object, got {type(payload).__name__}")
        expected = {"event_id", "request_id", "occurred_at", "numbers", "result"}
        if set(payload) != expected:
            raise InvalidEvent(f"expected fields {sorted(expected)}, got {sorted(payload)}")
        for name in ("event_id", "request_id", "occurred_at"):
            # No NUL characters: PostgreSQL's text cannot hold one.
            if not isinstance(payload[name], str) or not payload[name] or "\x00" in payload[name]:
                raise InvalidEvent(f"{name} must be a non-empty string without NUL characters")
        if not isinstance(payload["numbers"], list):
            raise InvalidEvent("numbers must be a list")
        return cls(**payload)


SUM_COMPUTED_EXAMPLE = SumComputed(
    event_id="5f0c4e2a9b7d4c1e8a3f6b2d9e1c7a40",
    request_id="example-request-1",
    occurred_at="2026-01-01T12:00:00.000000+00:00",
    numbers=[1, 2, 3],
    result=6,
)
"""The event the documents show (and a test sends, then finds in the log)."""
