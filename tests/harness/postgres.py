"""A PostgreSQL server for tests: a private one per test module, a new database per test.

The server is `devstack.postgres_server.PrivatePostgres` (Debian's PostgreSQL 15 on a
free loopback port, in a temporary directory); the cluster Debian starts on install is
never used. Where PostgreSQL is not installed, tests skip (fail under CI).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from devstack.postgres_server import NoPostgresServer, PrivatePostgres
from harness.prerequisites import missing

_numbers = itertools.count(1)


@dataclass(frozen=True)
class LogDatabase:
    """An empty database of the test's own, and the settings that give it to ``log``."""

    server: PrivatePostgres
    url: str

    @property
    def settings(self) -> dict[str, str]:
        """``LOG_STORE_URL`` and ``LOG_STORE_PASSWORD_FILE``, as a deployment sets them."""
        return {
            "LOG_STORE_URL": self.url,
            "LOG_STORE_PASSWORD_FILE": str(self.server.password_file),
        }

    def rows(self, sql: str) -> list[str]:
        """`sql`'s output rows, each as psql prints it (columns joined by ``|``)."""
        return self.server.psql(sql, database=self.url.rsplit("/", 1)[1]).splitlines()


@contextlib.contextmanager
def provide_postgres() -> Iterator[PrivatePostgres]:
    """A started private server, removed afterwards."""
    try:
        server = PrivatePostgres()
    except NoPostgresServer as exc:
        missing(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


def new_database(server: PrivatePostgres) -> LogDatabase:
    return LogDatabase(server, server.create_database(f"log_test_{next(_numbers)}"))
