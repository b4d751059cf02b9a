"""The events services exchange, and where the broker keeps them.

An `EventRoute` names the Nameko exchange an event is published to and the durable
queues that must hold it. Publishers declare those queues before the first publish,
so an event sent before its consumer has ever started is kept, not dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shared.numbers import Number


class InvalidEvent(ValueError):
    """An event payload does not match its schema."""


@dataclass(frozen=True)
class EventRoute:
    """Where events of one type go: Nameko's ``<source>.events`` topic exchange."""

    source: str
    event_type: str
    durable_queues: tuple[str, ...]

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"


def handler_queue(source: str, event_type: str, service: str, method: str) -> str:
    """The queue Nameko's ``@event_handler`` (service pool mode) consumes from."""
    return f"evt-{source}-{event_type}--{service}.{method}"


SUM_COMPUTED = EventRoute(
    source="gateway",
    event_type="sum_computed",
    durable_queues=(handler_queue("gateway", "sum_computed", "log", "record_sum"),),
)


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
            if not isinstance(payload[name], str) or not payload[name]:
                raise InvalidEvent(f"{name} must be a non-empty string")
        if not isinstance(payload["numbers"], list):
            raise InvalidEvent("numbers must be a list")
        return cls(**payload)
