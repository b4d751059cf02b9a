"""The default store: one SQLite file, for one ``log`` process.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on disk when `append`
returns, so acknowledging the event afterwards cannot lose it, even to a power cut.
SQLite's calls block, so they run on a worker thread (eventlet's tpool), one at a time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, TypeVar

from eventlet import tpool
from eventlet.semaphore import Semaphore

from log.store.entry import LogEntry
from log.store.grouped import GroupedStore

T = TypeVar("T")

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


class SqliteStore(GroupedStore):
    """The store in the SQLite file at `path` (its directory is created)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Used from worker threads, one at a time (`_serial`).
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(_SCHEMA)
        self._serial = Semaphore()

    def _insert(self, entries: list[LogEntry]) -> list[bool]:
        return self._on_thread(_insert, self._db, entries)

    def recent(self, limit: int) -> list[LogEntry]:
        rows = self._on_thread(_select_recent, self._db, limit)
        return [LogEntry.from_row(*row) for row in rows]

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
                (entry.event_id, entry.time, entry.source, entry.request_id, entry.payload_json()),
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
