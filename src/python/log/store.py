"""The log's durable store: one SQLite row per recorded event.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk when `append`
returns, so acknowledging the event afterwards cannot lose it, even to a power cut.
Each event id is unique, so a redelivered event (the broker's at-least-once
guarantee) is stored once.

A commit costs an ``fsync``, so appends are grouped: every append that arrives while a
commit is running joins the next one, and each caller returns when the commit holding
its entry is on disk. Commits run on a worker thread, so the service's event loop keeps
consuming and acknowledging meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import eventlet
from eventlet import tpool
from eventlet.event import Event
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from prometheus_client import Gauge, Histogram

from domain.events import SumComputed
from runtime import tracing
from runtime.config import ContainerSettings
from runtime.telemetry import LATENCY_BUCKETS

T = TypeVar("T")

COMMIT_DURATION = Histogram(
    "log_store_commit_seconds", "Store commits (one fsync each, for every entry waiting).",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
ENTRIES = Gauge("log_store_entries", "Entries in the store.")

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
        # A shallow copy: dataclasses.asdict deep-copies, at several times the cost.
        return dict(vars(self))


class EntryStore:
    """Appends entries (grouped into shared commits) and reads the newest ones back."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Used from worker threads, one at a time (`_serial`).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self._serial = Semaphore()
        self._waiting: list[tuple[LogEntry, Event]] = []
        self._committing = False

    def append(self, entry: LogEntry) -> bool:
        """Store `entry` durably; False if an entry with its event id is already stored."""
        with tracing.span("log.store append", attributes={"log.event_id": entry.event_id}):
            stored = Event()
            self._waiting.append((entry, stored))
            if not self._committing:
                self._committing = True
                eventlet.spawn_n(self._commit_waiting)
            inserted: bool = stored.wait()
            return inserted

    def _commit_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                started = time.perf_counter()
                try:
                    inserted = self._on_thread(_insert, self._db, [entry for entry, _ in batch])
                except Exception as exc:  # each caller learns its entry was not stored
                    for _, stored in batch:
                        stored.send_exception(exc)
                else:
                    COMMIT_DURATION.observe(time.perf_counter() - started)
                    ENTRIES.inc(sum(inserted))
                    for (_, stored), was_new in zip(batch, inserted):
                        stored.send(was_new)
        finally:
            self._committing = False

    def recent(self, limit: int) -> list[LogEntry]:
        """The newest `limit` entries, newest first."""
        rows = self._on_thread(_select_recent, self._db, limit)
        return [
            LogEntry(event_id, time, source, request_id, json.loads(payload))
            for event_id, time, source, request_id, payload in rows
        ]

    def count(self) -> int:
        (total,) = self._on_thread(
            lambda db: db.execute("SELECT COUNT(*) FROM entries").fetchone(), self._db
        )
        return int(total)

    def close(self) -> None:
        with self._serial:
            self._db.close()

    def _on_thread(self, function: Callable[..., T], *args: Any) -> T:
        with self._serial:
            result: T = tpool.execute(function, *args)
            return result


def _insert(db: sqlite3.Connection, entries: list[LogEntry]) -> list[bool]:
    """One transaction, one fsync, for all of `entries`; which of them were new."""
    db.execute("BEGIN")
    try:
        inserted = [
            db.execute(
                "INSERT OR IGNORE INTO entries (event_id, time, source, request_id, payload)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    entry.event_id,
                    entry.time,
                    entry.source,
                    entry.request_id,
                    json.dumps(entry.payload, separators=(",", ":")),
                ),
            ).rowcount
            == 1
            for entry in entries
        ]
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return inserted


def _select_recent(db: sqlite3.Connection, limit: int) -> list[tuple[str, str, str, str, str]]:
    return db.execute(
        "SELECT event_id, time, source, request_id, payload FROM entries"
        " ORDER BY seq DESC LIMIT ?",
        (limit,),
    ).fetchall()


class EntryStoreProvider(DependencyProvider):
    """Opens the store at ``LOG_STORE_PATH`` for the service's lifetime."""

    store: EntryStore
    store_class = EntryStore  # as Nameko's own providers name their classes (publisher_cls)
    settings = ContainerSettings()

    def setup(self) -> None:
        self.store = self.store_class(self.settings.values.log_store_path)
        ENTRIES.set(self.store.count())

    def stop(self) -> None:
        self.store.close()

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> EntryStore:
        return self.store
