"""log's PostgreSQL store against a real PostgreSQL server of the module's own.

What the store promises, each checked on the server: entries read back newest first
through the primary key's index, an event id stored once, the schema migrated once by
stores opening at once, green threads running while a query waits, an outage reported
as `LogStoreUnavailable` and survived, and the password taken from a file and never
shown.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import eventlet
import pytest

from devstack.postgres_server import PrivatePostgres
from devstack.waiting import wait_for
from domain.errors import LogStoreUnavailable
from harness.log_entries import stored_entry
from harness.postgres import LogDatabase
from log.store import LogEntry, PostgresStore, PostgresTarget
from log.store.postgres import RECENT_SQL
from runtime.errors import ConfigError


def open_store(database: LogDatabase) -> PostgresStore:
    target = PostgresTarget.from_url(database.url, str(database.server.password_file))
    return PostgresStore(target)


def test_entries_come_back_newest_first_and_an_event_id_is_stored_once(
    log_database: LogDatabase,
) -> None:
    store = open_store(log_database)
    for n in range(5):
        assert store.append(stored_entry(f"e{n}"))
    assert [e.event_id for e in store.recent(3)] == ["e4", "e3", "e2"]
    assert store.recent(1) == [stored_entry("e4")]
    assert not store.append(stored_entry("e2", result=99)), "a redelivery is not stored again"
    assert store.count() == 5
    assert [e.payload["result"] for e in store.recent(10) if e.event_id == "e2"] == [3]
    store.close()


def test_appends_arriving_together_share_a_commit_and_a_repeated_id_counts_once(
    log_database: LogDatabase,
) -> None:
    store = open_store(log_database)
    pool = eventlet.GreenPool()
    ids = [f"g{n}" for n in range(20)] + ["g0", "g1"]
    results = list(pool.imap(lambda event_id: store.append(stored_entry(event_id)), ids))
    assert sorted(results) == [False] * 2 + [True] * 20
    assert store.count() == 20
    store.close()


def test_json_any_event_carries_is_kept_as_it_was(log_database: LogDatabase) -> None:
    store = open_store(log_database)
    odd = LogEntry("odd", "t", "gateway", "r", {"numbers": ["\u0000", 1e308], "result": None})
    assert store.append(odd)
    assert store.recent(1) == [odd]
    store.close()


def test_the_newest_first_listing_reads_the_primary_key_index_backwards(
    log_database: LogDatabase,
) -> None:
    open_store(log_database).close()
    log_database.rows(
        "INSERT INTO log_entries (event_id, time, source, request_id, payload)"
        " SELECT 'id-' || n, 't', 'gateway', 'r', '{}' FROM generate_series(1, 20000) AS n;"
        " ANALYZE log_entries"
    )
    query = RECENT_SQL.replace(":limit", "20")
    plan = "\n".join(log_database.rows(f"EXPLAIN {query}"))
    assert "Index Scan Backward using log_entries_pkey" in plan, plan
    assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_stores_opening_at_once_on_an_empty_database_migrate_it_once(
    log_database: LogDatabase,
) -> None:
    stores = list(eventlet.GreenPool().imap(lambda _: open_store(log_database), range(6)))
    assert log_database.rows("SELECT version FROM log_schema_versions") == ["1"]
    assert stores[0].append(stored_entry("after"))
    assert all(store.count() == 1 for store in stores)
    for store in stores:
        store.close()


def test_other_green_threads_run_while_a_query_waits_on_the_database(
    log_database: LogDatabase,
) -> None:
    """pg8000's socket is eventlet's green socket: the hub runs others meanwhile."""
    target = PostgresTarget.from_url(log_database.url, str(log_database.server.password_file))
    connection = target.connect()  # as the store's pool makes each of its connections
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            eventlet.sleep(0.01)

    ticker = eventlet.spawn(tick)
    started = time.monotonic()
    connection.run("SELECT pg_sleep(1)")
    waited = time.monotonic() - started
    ticker.kill()
    assert waited >= 1
    # A blocked hub would let the ticker run once or twice, not every 10 ms.
    assert ticks >= 50, ticks
    connection.close()


def test_an_outage_is_log_store_unavailable_and_the_store_works_once_it_is_back(
    postgres: PrivatePostgres, log_database: LogDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(log_database)
    assert store.append(stored_entry("before"))
    postgres.stop()
    try:
        with caplog.at_level(logging.WARNING):
            with pytest.raises(LogStoreUnavailable):
                store.append(stored_entry("during"))
            with pytest.raises(LogStoreUnavailable):
                store.recent(10)
    finally:
        postgres.start()
    # The pooled connections died with the server: replaced without another failure.
    assert store.append(stored_entry("after"))
    assert [e.event_id for e in store.recent(10)] == ["after", "before"]
    # One line as it goes, one as it comes back: not one per failed call.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "unavailable" in warnings[0] and "reachable again" in warnings[1], warnings
    assert postgres.password not in caplog.text
    store.close()


def test_a_database_restart_between_calls_costs_no_call_and_no_warning(
    postgres: PrivatePostgres, log_database: LogDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(log_database)
    assert store.append(stored_entry("before"))
    postgres.stop()
    postgres.start()
    with caplog.at_level(logging.WARNING):
        assert store.append(stored_entry("after"))  # its pooled connection died: a new one
        assert store.count() == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    store.close()


def test_a_store_opened_before_its_database_runs_waits_for_it(
    postgres: PrivatePostgres, log_database: LogDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    postgres.stop()
    try:
        with caplog.at_level(logging.WARNING):
            opening = eventlet.spawn(open_store, log_database)
            wait_for(lambda: "unavailable" in caplog.text, 10, "a failed attempt")
        assert not opening.dead
    finally:
        postgres.start()
    with eventlet.Timeout(30):
        store = opening.wait()
    assert store.append(stored_entry("first"))
    store.close()


def test_the_password_comes_from_the_file_or_the_url_and_is_never_shown(
    postgres: PrivatePostgres, log_database: LogDatabase, tmp_path: Path
) -> None:
    from_file = PostgresTarget.from_url(log_database.url, str(postgres.password_file))
    assert from_file.password == postgres.password
    in_url = log_database.url.replace("postgres@", f"postgres:{postgres.password}@")
    from_url = PostgresTarget.from_url(in_url)
    assert from_url == from_file
    for shown in (repr(from_url), str(from_url), from_url.describe()):
        assert postgres.password not in shown
    PostgresStore(from_url).close()

    with pytest.raises(ConfigError, match="asks for a password"):
        PostgresStore(PostgresTarget.from_url(log_database.url))
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    with pytest.raises(Exception, match="password authentication failed"):
        PostgresStore(PostgresTarget.from_url(log_database.url, str(wrong)))


@pytest.mark.parametrize(
    "url", ["mysql://u@h/d", "postgresql:///d", "postgresql://u@h/d?sslmode=require"]
)
def test_a_url_the_store_cannot_honour_is_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        PostgresTarget.from_url(url)
