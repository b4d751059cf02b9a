"""Several ``log`` replicas (the packaged PEX, as processes) on one PostgreSQL server.

Each test sends a bounded load (8 clients, capped in time and count) through the
gateway, does something to the replicas or the database meanwhile, and then checks what
the store promises: one row per answered sum, none twice, nothing dead-lettered.
"""

from __future__ import annotations

import json
import time
from typing import Any

import amqp
import requests

from devstack.postgres_server import PrivatePostgres
from devstack.probes import connect, queue_counts
from devstack.waiting import wait_for
from domain.events import SUM_COMPUTED
from harness.load import SteadyLoad
from harness.packaged import StackFactory
from harness.postgres import LogDatabase
from messaging.queues import DEAD_LETTERS

CLIENTS = 8
EVENTS = SUM_COMPUTED.durable_queues[0]
OUTAGE_SECONDS = 10


def consumers(amqp_uri: str, queue: str) -> int:
    counts = queue_counts(amqp_uri, queue)
    return counts[1] if counts else 0


def stored_request_ids(database: LogDatabase) -> list[str]:
    return database.rows("SELECT request_id FROM log_entries")


def wait_until_stored(database: LogDatabase, count: int) -> list[str]:
    """The stored request ids, once there are at least `count` of them."""
    try:
        wait_for(lambda: len(stored_request_ids(database)) >= count, 90, f"{count} rows")
    except TimeoutError:
        raise AssertionError(f"{len(stored_request_ids(database))} of {count} stored") from None
    return stored_request_ids(database)


def deliver_again(amqp_uri: str, database: LogDatabase, count: int) -> None:
    """Publish `count` stored events again, as the broker delivers again an event whose
    acknowledgement was lost (its replica killed between its commit and its ack)."""
    rows = database.rows(
        f"SELECT event_id, time, request_id, payload FROM log_entries LIMIT {count}"
    )
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        for row in rows:
            event_id, occurred_at, request_id, payload = row.split("|", 3)
            body = {"event_id": event_id, "occurred_at": occurred_at, "request_id": request_id,
                    **json.loads(payload)}  # fmt: skip
            message = amqp.Message(json.dumps(body), content_type="application/json")
            channel.basic_publish(message, SUM_COMPUTED.exchange, SUM_COMPUTED.event_type)
    finally:
        connection.close()


def logs_answer(base_url: str) -> tuple[int, str, Any]:
    answer = requests.get(f"{base_url}/logs?limit=5", timeout=10)
    return answer.status_code, answer.headers["Content-Type"], answer.json()


def unavailable(base_url: str) -> tuple[int, str, Any] | None:
    """/logs' answer if it is a 503."""
    answer = logs_answer(base_url)
    return answer if answer[0] == 503 else None


def test_three_replicas_store_each_sum_once_while_one_is_killed_and_restarted(
    amqp_uri: str, stack_factory: StackFactory, log_database: LogDatabase
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5", **log_database.settings)
    stack.start("calc")
    stack.start("gateway")
    doomed, *others = [stack.start("log") for _ in range(3)]
    stack.wait_ready()
    wait_for(lambda: consumers(amqp_uri, EVENTS) == 3, 60, "three log replicas consuming")

    load = SteadyLoad(stack.base_url, clients=CLIENTS, max_seconds=120, max_requests=6000)
    load.wait_for_requests(400)
    doomed.kill()  # SIGKILL: its unacknowledged events go to the other replicas
    restarted = stack.start("log")
    wait_for(lambda: consumers(amqp_uri, EVENTS) == 3, 60, "the restarted replica consuming")
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 400)
    result = load.stop()

    assert result.failed == 0, result.outcomes
    stored = wait_until_stored(log_database, result.ok)
    assert len(stored) == result.ok, "a sum stored twice"
    assert sorted(stored) == sorted(result.request_ids)
    replicas = [doomed, *others, restarted]
    for replica in replicas:
        assert '"sum computed"' in replica.output(), f"{replica.output_path} stored nothing"

    # Events delivered again, to whichever replica: none is stored a second time.
    deliver_again(amqp_uri, log_database, 100)
    wait_for(lambda: sum(r.output().count("duplicate event") for r in replicas) >= 100, 60,
             "the replicas to see the events again")  # fmt: skip
    assert len(stored_request_ids(log_database)) == result.ok


def test_a_database_outage_under_load_keeps_every_event_and_stores_each_once_after(
    amqp_uri: str, stack_factory: StackFactory, postgres: PrivatePostgres, log_database: LogDatabase
) -> None:
    # Quorum queues dead-letter an event on its third delivery here: a requeue per
    # failed write would send most of the outage's events to dead-letters.
    settings = {"QUEUE_TYPE": "quorum", "DELIVERY_LIMIT": "2", **log_database.settings}
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5", **settings)
    stack.start("calc")
    stack.start("gateway")
    for _ in range(3):
        stack.start("log")
    stack.wait_ready()
    wait_for(lambda: consumers(amqp_uri, EVENTS) == 3, 60, "three log replicas consuming")
    load = SteadyLoad(stack.base_url, clients=CLIENTS, max_seconds=150, max_requests=20000)
    load.wait_for_requests(200)

    postgres.stop()
    stopped_at = time.monotonic()
    try:
        _, content_type, body = wait_for(lambda: unavailable(stack.base_url), 20, "a 503")
        assert content_type == "application/json"
        assert body["error"]["code"] == "log_store_unavailable", body
        # The gateway goes on answering: its events wait in RabbitMQ.
        answered = sum(load.result.outcomes.values())
        load.wait_for_requests(answered + 200)
        wait_for(lambda: (queue_counts(amqp_uri, EVENTS) or (0, 0))[0] > 0, 20, "a backlog")
        wait_for(lambda: time.monotonic() - stopped_at >= OUTAGE_SECONDS, OUTAGE_SECONDS + 5,
                 f"{OUTAGE_SECONDS} s of outage", interval=0.5)  # fmt: skip
        assert logs_answer(stack.base_url)[0] == 503
    finally:
        postgres.start()
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 200)
    result = load.stop()

    assert result.failed == 0, result.outcomes
    stored = wait_until_stored(log_database, result.ok)
    assert len(stored) == result.ok, "a sum stored twice"
    assert sorted(stored) == sorted(result.request_ids)
    dead = queue_counts(amqp_uri, DEAD_LETTERS)
    assert dead is None or dead[0] == 0, f"{dead[0]} events dead-lettered"
    assert logs_answer(stack.base_url)[0] == 200


def test_two_replicas_starting_at_once_on_an_empty_database_both_come_up(
    amqp_uri: str, stack_factory: StackFactory, log_database: LogDatabase
) -> None:
    stack = stack_factory(amqp_uri, **log_database.settings)
    replicas = [stack.start("log"), stack.start("log")]
    wait_for(lambda: consumers(amqp_uri, "rpc-log") == 2, 60, "both replicas serving")
    assert all(replica.running() for replica in replicas)
    assert log_database.rows("SELECT version FROM log_schema_versions") == ["1"]
    migrated = [r for r in replicas if "applied schema versions [1]" in r.output()]
    assert len(migrated) == 1, [r.output()[-2000:] for r in replicas]
