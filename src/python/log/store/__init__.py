"""The log's durable store: one row per recorded event, in SQLite or in PostgreSQL.

Both keep the same promises: an entry is durable when `GroupedStore.append` returns, so
the event can be acknowledged; an event id is stored once, however often it is
delivered. SQLite (`SqliteStore`, the default) needs no server and allows one ``log``
process; PostgreSQL (`PostgresStore`) lets several replicas share one database.
"""

from log.store.entry import LogEntry
from log.store.grouped import GroupedStore
from log.store.postgres import PostgresStore, PostgresTarget
from log.store.provider import EntryStoreProvider
from log.store.sqlite import SqliteStore

# The SQLite store's name from when it was the only one.
EntryStore = SqliteStore

__all__ = [
    "EntryStore",
    "EntryStoreProvider",
    "GroupedStore",
    "LogEntry",
    "PostgresStore",
    "PostgresTarget",
    "SqliteStore",
]
