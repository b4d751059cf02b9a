"""What the log keeps of one event, whichever database keeps it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from domain.events import SumComputed


@dataclass(frozen=True)
class LogEntry:
    """What the log keeps of one event."""

    event_id: str
    time: str
    source: str
    request_id: str
    payload: dict[str, Any]

    @classmethod
    def from_sum_computed(cls, event: SumComputed, source: str) -> LogEntry:
        return cls(
            event_id=event.event_id,
            time=event.occurred_at,
            source=source,
            request_id=event.request_id,
            payload={"numbers": event.numbers, "result": event.result},
        )

    @classmethod
    def from_row(
        cls, event_id: str, time: str, source: str, request_id: str, payload: str
    ) -> LogEntry:
        """An entry as a store reads it back: its payload as JSON text."""
        return cls(event_id, time, source, request_id, json.loads(payload))

    def payload_json(self) -> str:
        """The payload as every store keeps it: compact JSON text, which holds whatever
        JSON the event carried."""
        return json.dumps(self.payload, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        # A shallow copy: dataclasses.asdict deep-copies, at several times the cost.
        return dict(vars(self))
