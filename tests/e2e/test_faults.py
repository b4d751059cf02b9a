"""Faults under steady load, with the packaged services as separate processes.

Each test runs a bounded load (8 clients, at most 30 s and 5000 requests) and checks
what the guarantees promise: answered requests are never lost from the log, a stopped
or killed replica costs at most the requests it had in flight, and every process that
gets SIGTERM exits 0.
"""

from __future__ import annotations

from devstack.processes import PackagedStack
from devstack.waiting import wait_for
from harness.load import SteadyLoad
from harness.packaged import StackFactory
from log.store import EntryStore

CLIENTS = 8


def open_store(stack: PackagedStack) -> EntryStore:
    """The stack's log store, once log has made it."""
    wait_for(stack.store_path.exists, 30, "the log store")
    return EntryStore(str(stack.store_path))


def logged_request_ids(store: EntryStore) -> list[str]:
    return [entry.request_id for entry in store.recent(1000 * 1000)]


def test_sigterm_to_a_calc_replica_under_load_fails_no_request(
    amqp_uri: str, stack_factory: StackFactory
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5")
    first, second = stack.start("calc"), stack.start("calc")
    stack.start("log")
    stack.start("gateway")
    stack.wait_ready()

    load = SteadyLoad(stack.base_url, clients=CLIENTS)
    load.wait_for_requests(200)
    assert first.terminate() == 0, first.output()
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 200)
    result = load.stop()

    assert result.failed == 0, result.outcomes
    assert second.process.poll() is None


def test_sigkill_of_a_calc_replica_costs_at_most_its_requests_in_flight(
    amqp_uri: str, stack_factory: StackFactory
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5")
    doomed = stack.start("calc")
    stack.start("calc")
    stack.start("log")
    stack.start("gateway")
    stack.wait_ready()

    load = SteadyLoad(stack.base_url, clients=CLIENTS)
    load.wait_for_requests(200)
    doomed.kill()
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 200)
    result = load.stop()

    assert result.failed <= CLIENTS, result.outcomes
    assert result.ok >= 400


def test_sigterm_to_the_gateway_under_load_completes_what_it_accepted(
    amqp_uri: str, stack_factory: StackFactory
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5")
    stack.start("calc")
    stack.start("log")
    gateway = stack.start("gateway")
    stack.wait_ready()

    load = SteadyLoad(stack.base_url, clients=CLIENTS)
    load.wait_for_requests(200)
    assert gateway.terminate() == 0, gateway.output()
    result = load.stop()

    # Answers were whole; the rest were refused cleanly: the port closed, a kept-alive
    # connection closed, or a 503 that says to retry. Nothing else, nothing hanging.
    assert set(result.outcomes) <= {"200", "ConnectionError", "503 shutting_down"}, result.outcomes
    store = open_store(stack)
    wait_for(lambda: set(result.request_ids) <= set(logged_request_ids(store)), 30,
             "every answered sum in the log")  # fmt: skip


def test_sigterm_to_log_under_load_loses_no_event(
    amqp_uri: str, stack_factory: StackFactory
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5")
    stack.start("calc")
    log = stack.start("log")
    stack.start("gateway")
    stack.wait_ready()

    load = SteadyLoad(stack.base_url, clients=CLIENTS)
    load.wait_for_requests(200)
    assert log.terminate() == 0, log.output()
    answered = sum(load.result.outcomes.values())
    load.wait_for_requests(answered + 200)  # sums go on while log is down
    stack.start("log")
    result = load.stop()

    assert result.failed == 0, result.outcomes
    store = open_store(stack)
    wait_for(lambda: len(logged_request_ids(store)) == result.ok, 30, "one entry per sum")
    assert sorted(logged_request_ids(store)) == sorted(result.request_ids)


def test_a_log_crash_mid_batch_loses_nothing_and_duplicates_nothing(
    amqp_uri: str, stack_factory: StackFactory
) -> None:
    stack = stack_factory(amqp_uri, RPC_TIMEOUT="5")
    stack.start("calc")
    stack.start("gateway")
    stack.wait_ready()
    # A backlog while log is down: the gateway's durable queue keeps every event.
    result = SteadyLoad(
        stack.base_url, clients=CLIENTS, max_seconds=120, max_requests=3000
    ).finish()
    assert result.ok == 3000, result.outcomes

    log = stack.start("log")
    store = open_store(stack)
    recorded_at_crash = wait_for(
        lambda: 0 < store.count() < 3000 and store.count(), 60, "log part-way through", 0.01
    )
    log.kill()
    assert recorded_at_crash < 3000

    restarted = stack.start("log")
    try:
        wait_for(lambda: store.count() == 3000, 60, "the whole backlog recorded")
    except TimeoutError:
        raise AssertionError(f"{store.count()} of 3000 stored\n{restarted.output()[-3000:]}")
    assert sorted(logged_request_ids(store)) == sorted(result.request_ids)
