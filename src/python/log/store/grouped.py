"""Grouped commits, the part of storing that does not depend on the database.

A commit costs a round of durable writes (an ``fsync``, a WAL flush), so appends are
grouped: every append that arrives while a commit is running joins the next one, and
each caller returns when the commit holding its entry is durable. One commit runs at a
time, in a green thread of its own, so the service's event loop keeps consuming and
acknowledging meanwhile.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import eventlet
from eventlet.event import Event
from prometheus_client import Gauge, Histogram

from log.store.entry import LogEntry
from runtime.telemetry import LATENCY_BUCKETS

COMMIT_DURATION = Histogram(
    "log_store_commit_seconds", "Store commits (one durable write each, for every entry waiting).",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
ENTRIES = Gauge("log_store_entries", "Entries in the store.")


class GroupedStore(ABC):
    """Appends entries (grouped into shared commits) and reads the newest ones back.

    Each event id is unique in every store, so a redelivered event (the broker's
    at-least-once guarantee) is stored once.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[LogEntry, Event]] = []
        self._committing = False

    def append(self, entry: LogEntry) -> bool:
        """Store `entry` durably; False if an entry with its event id is already stored.

        Traced as part of the handler's consumer span: its time there is mostly this
        wait, and ``log_store_commit_seconds`` times the commits themselves.
        """
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
                    inserted = self._insert([entry for entry, _ in batch])
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

    @abstractmethod
    def _insert(self, entries: list[LogEntry]) -> list[bool]:
        """One transaction for all of `entries`, durable when it returns; which were new."""

    @abstractmethod
    def recent(self, limit: int) -> list[LogEntry]:
        """The newest `limit` entries, newest first."""

    @abstractmethod
    def count(self) -> int:
        """How many entries the store holds."""

    @abstractmethod
    def close(self) -> None:
        """Release the database; the store is not used afterwards."""
