"""The store in PostgreSQL, for several ``log`` replicas at once.

Each replica groups its own appends into one transaction (`GroupedStore`); a commit
returns once PostgreSQL has flushed it (``synchronous_commit`` on, its default), so
acknowledging the events afterwards cannot lose them. Replicas consuming the same queue
never store an event twice: its id is a unique key, and ``ON CONFLICT DO NOTHING``
makes a second insert a no-op, even while the first is still being committed by another
replica. While the database cannot be reached, every call raises `LogStoreUnavailable`.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

import eventlet
from pg8000.native import Connection

from domain.errors import LogStoreUnavailable
from log.store.entry import LogEntry
from log.store.grouped import GroupedStore
from log.store.migrations import migrate
from log.store.pool import ConnectionPool
from messaging.events import backoff
from runtime.errors import ConfigError

_log = logging.getLogger(__name__)

# Connections per replica: one for its commits (one at a time), the rest for reads.
POOL_SIZE = 4
# A database that stops answering (a host gone, rather than a server refusing) fails
# the call after this long, as an outage.
SOCKET_TIMEOUT = 10.0
DEFAULT_PORT = 5432

INSERT_SQL = """
INSERT INTO log_entries (event_id, time, source, request_id, payload)
SELECT * FROM unnest(
    CAST(:event_ids AS text[]), CAST(:times AS text[]), CAST(:sources AS text[]),
    CAST(:request_ids AS text[]), CAST(:payloads AS text[])
)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id
"""
RECENT_SQL = """
SELECT event_id, time, source, request_id, payload FROM log_entries
ORDER BY seq DESC LIMIT :limit
"""


@dataclass(frozen=True)
class PostgresTarget:
    """Where the database is and how to log in; the password is never shown."""

    user: str
    host: str
    port: int
    database: str
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, password_file: str = "") -> PostgresTarget:
        """``postgresql://user[:password]@host[:port]/database``, the password from the
        URL or else from `password_file` (a secret mounted as a file)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise ConfigError("LOG_STORE_URL: expected postgresql://user@host[:port]/database")
        if parts.query or parts.fragment:
            raise ConfigError("LOG_STORE_URL: takes no parameters (?...)")
        user = unquote(parts.username or "postgres")
        password = unquote(parts.password) if parts.password is not None else None
        if password_file:
            password = Path(password_file).read_text().rstrip("\r\n")
        database = unquote(parts.path.lstrip("/")) or user
        return cls(user, parts.hostname, parts.port or DEFAULT_PORT, database, password)

    def describe(self) -> str:
        """The URL without its password, for log lines."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> Connection:
        try:
            return Connection(
                self.user, host=self.host, port=self.port, database=self.database,
                password=self.password, timeout=SOCKET_TIMEOUT, application_name="log",
            )  # fmt: skip
        except AttributeError:
            # pg8000 fails so when the server wants a SCRAM password and was given none.
            if self.password is None:
                raise ConfigError(
                    f"{self.describe()} asks for a password: give it in LOG_STORE_URL or"
                    " LOG_STORE_PASSWORD_FILE"
                ) from None
            raise


class PostgresStore(GroupedStore):
    """The store in the database at `target`, its schema migrated as it opens.

    A database that cannot be reached yet is waited for, with a backoff, as the services
    wait for their broker: a replica may start before its database does.
    """

    def __init__(self, target: PostgresTarget, pool_size: int = POOL_SIZE) -> None:
        super().__init__()
        self.target = target
        self._pool = ConnectionPool(target.connect, pool_size, target.describe())
        for attempt in itertools.count():
            try:
                applied = self._pool.run(migrate)
                break
            except LogStoreUnavailable:
                eventlet.sleep(backoff(attempt))
        if applied:
            _log.info("log store %s: applied schema versions %s", target.describe(), applied)

    def _insert(self, entries: list[LogEntry]) -> list[bool]:
        return self._pool.run(partial(_insert, entries=entries))

    def recent(self, limit: int) -> list[LogEntry]:
        rows = self._pool.run(lambda connection: connection.run(RECENT_SQL, limit=limit))
        return [LogEntry.from_row(*row) for row in rows]

    def count(self) -> int:
        rows = self._pool.run(lambda connection: connection.run("SELECT count(*) FROM log_entries"))
        return int(rows[0][0])

    def close(self) -> None:
        self._pool.close()


def _insert(connection: Connection, entries: list[LogEntry]) -> list[bool]:
    """One transaction for all of `entries`; which of them were new (the first of two
    with the same id, if the batch holds both)."""
    connection.run("BEGIN")
    stored = connection.run(
        INSERT_SQL,
        event_ids=[entry.event_id for entry in entries],
        times=[entry.time for entry in entries],
        sources=[entry.source for entry in entries],
        request_ids=[entry.request_id for entry in entries],
        payloads=[entry.payload_json() for entry in entries],
    )
    connection.run("COMMIT")
    new = {event_id for (event_id,) in stored}
    inserted = []
    for entry in entries:
        inserted.append(entry.event_id in new)
        new.discard(entry.event_id)
    return inserted
