"""The log's durable store: one SQLite row per recorded event.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk when `append`
returns, so acknowledging the event afterwards cannot lose it, even to a power cut.
Each event id is unique, so a redelivered event (the broker's at-least-once
guarantee) is stored once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nameko.extensions import DependencyProvider

from shared.config import Settings
from shared.events import SumComputed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    request_id TEXT NOT NULL,
    payload TEXT NOT NULL
)
"""


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EntryStore:
    """Appends entries and reads the newest ones back."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Green threads share the one OS thread; each statement runs to completion.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)

    def append(self, entry: LogEntry) -> bool:
        """Store `entry`; False if an entry with its event id is already stored."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO entries (event_id, time, source, request_id, payload)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                entry.event_id,
                entry.time,
                entry.source,
                entry.request_id,
                json.dumps(entry.payload, separators=(",", ":")),
            ),
        )
        return cursor.rowcount == 1

    def recent(self, limit: int) -> list[LogEntry]:
        """The newest `limit` entries, newest first."""
        rows = self._db.execute(
            "SELECT event_id, time, source, request_id, payload FROM entries"
            " ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        return [
            LogEntry(event_id, time, source, request_id, json.loads(payload))
            for event_id, time, source, request_id, payload in rows
        ]

    def count(self) -> int:
        (total,) = self._db.execute("SELECT COUNT(*) FROM entries").fetchone()
        return int(total)

    def close(self) -> None:
        self._db.close()


class EntryStoreProvider(DependencyProvider):
    """Opens the store at ``LOG_STORE_PATH`` for the service's lifetime."""

    store: EntryStore

    def setup(self) -> None:
        self.store = EntryStore(Settings.from_config(self.container.config).log_store_path)

    def stop(self) -> None:
        self.store.close()

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> EntryStore:
        return self.store
