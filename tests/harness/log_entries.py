"""What log has recorded, read through the gateway's ``/logs`` as a client reads it, and
an entry as its stores keep one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from log.store import LogEntry


def log_entries(
    base_url: str, limit: int = 100, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The newest `limit` entries; none while log is still connecting to the broker.

    The gateway is ready once calc answers, so just after a start ``/logs`` may answer
    503 (log not consuming yet): that reads as no entries, and a caller waiting for one
    goes on waiting. Any other answer but 200 fails the test.
    """
    answer = requests.get(f"{base_url}/logs?limit={limit}", headers=headers, timeout=10)
    if answer.status_code == 503:
        return []
    assert answer.status_code == 200, (answer.status_code, answer.text)
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def logged_request_ids(base_url: str, limit: int = 100) -> set[str]:
    return {entry["request_id"] for entry in log_entries(base_url, limit)}


def stored_entry(event_id: str, result: int = 3) -> LogEntry:
    """An entry as log stores one, for the stores' own tests."""
    return LogEntry(
        event_id=event_id,
        time="2026-01-01T00:00:00.000000+00:00",
        source="gateway",
        request_id=f"req-{event_id}",
        payload={"numbers": [1, 2], "result": result},
    )
