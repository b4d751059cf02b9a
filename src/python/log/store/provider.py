"""The store a ``log`` process opens: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from log.store.grouped import ENTRIES, GroupedStore
from log.store.postgres import PostgresStore, PostgresTarget
from log.store.sqlite import SqliteStore
from runtime.config import ContainerSettings, Settings

SQLITE_PREFIX = "sqlite:///"


class EntryStoreProvider(DependencyProvider):
    """Opens the store ``LOG_STORE_URL`` names (else SQLite at ``LOG_STORE_PATH``) for the
    service's lifetime."""

    store: GroupedStore
    # The SQLite store's class, as Nameko's own providers name theirs (publisher_cls).
    store_class = SqliteStore
    settings = ContainerSettings()

    def setup(self) -> None:
        self.store = self.open(self.settings.values)
        ENTRIES.set(self.store.count())

    def open(self, settings: Settings) -> GroupedStore:
        """``sqlite:///PATH`` (a relative path; ``sqlite:////PATH`` for an absolute one,
        as SQLAlchemy reads them) or ``postgresql://...``."""
        url = settings.log_store_url or SQLITE_PREFIX + settings.log_store_path
        if url.startswith(SQLITE_PREFIX):
            return self.store_class(url.removeprefix(SQLITE_PREFIX))
        return PostgresStore(PostgresTarget.from_url(url, settings.log_store_password_file))

    def stop(self) -> None:
        self.store.close()

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> GroupedStore:
        return self.store
