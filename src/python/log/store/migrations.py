"""The PostgreSQL store's schema, as numbered migrations applied at start.

Every ``log`` replica runs `migrate` as it starts, so several may run it at once (a
Deployment's pods, a Compose scale-up): each takes a transaction-scoped advisory lock
first, so one applies what is missing while the others wait, then find it applied.
PostgreSQL's DDL is transactional: a replica killed half-way applies nothing.

Migrations are only ever appended, and each keeps the previous version's code working
(add a column with a default, never drop one in the same release), so replicas of the
old and the new version run side by side during a rolling update.
"""

from __future__ import annotations

from pg8000.native import Connection

# pg_advisory_xact_lock's key: any number no other code in the database locks with.
LOCK_KEY = 0x6C6F675F73746F72  # "log_stor"

VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS log_schema_versions (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

# Version N is MIGRATIONS[N - 1].
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # seq orders the entries as they were stored; its primary key's index serves
        # /logs' newest-first listing (ORDER BY seq DESC LIMIT n) as a backward index
        # scan. event_id's unique key makes a redelivered event a no-op, whichever replica
        # gets it. The payload is the JSON text as the event carried it (jsonb would
        # refuse some JSON, e.g. a \u0000 escape).
        """
        CREATE TABLE log_entries (
            seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_id text NOT NULL,
            time text NOT NULL,
            source text NOT NULL,
            request_id text NOT NULL,
            payload text NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT log_entries_event_id_key UNIQUE (event_id)
        )
        """,
    ),
)


def migrate(connection: Connection) -> list[int]:
    """Apply the migrations the database lacks, in order; the versions applied now.

    Run it through `ConnectionPool.run`: on a failure the pool closes the connection,
    which rolls the transaction back.
    """
    connection.run("BEGIN")
    connection.run("SELECT pg_advisory_xact_lock(:key)", key=LOCK_KEY)
    connection.run(VERSIONS_TABLE)
    done = {version for (version,) in connection.run("SELECT version FROM log_schema_versions")}
    applied = []
    for version, statements in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        for statement in statements:
            connection.run(statement)
        connection.run("INSERT INTO log_schema_versions (version) VALUES (:v)", v=version)
        applied.append(version)
    connection.run("COMMIT")
    return applied
