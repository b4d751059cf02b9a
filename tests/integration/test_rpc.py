"""The services' RPC methods as any Nameko client sees them (``nameko shell`` included)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import amqp
import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from calc.service import CalcService
from devstack.probes import connect
from devstack.waiting import wait_for
from domain.errors import InvalidArgument, InvalidNumbers
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from log.service import LogService
from messaging.rpc import rpc


@pytest.fixture
def cluster(amqp_uri: str, tmp_path: Path) -> Iterator[Any]:
    services = start_services([CalcService, LogService], amqp_uri, tmp_path, max_numbers=3)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as proxy:
        yield proxy
    services.stop()


def test_calc_sums_over_rpc(cluster: Any) -> None:
    assert cluster.calc.sum([1, 2, 3]) == 6
    assert cluster.calc.sum(numbers=[0.1, 0.2]) == 0.30000000000000004
    assert cluster.calc.ping() == "pong"


@pytest.mark.parametrize("numbers", ["1,2", [1, "2"], [True], [1, 2, 3, 4], [[1]]])
def test_calc_refusals_arrive_as_the_typed_error(cluster: Any, numbers: object) -> None:
    with pytest.raises(InvalidNumbers):
        cluster.calc.sum(numbers)


def test_log_recent_validates_its_limit(cluster: Any) -> None:
    assert cluster.log.recent(limit=5) == []
    with pytest.raises(InvalidArgument):
        cluster.log.recent(limit=0)


class Unserialisable:
    name = "unserialisable"

    @rpc
    def a_set(self) -> set[int]:
        return {1, 2}


def test_an_unserialisable_result_is_reported_with_its_value_as_nameko_does(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    services = start_services([Unserialisable], amqp_uri, tmp_path)
    cleanup(services.stop)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as proxy:
        with pytest.raises(RemoteError) as failure:
            proxy.unserialisable.a_set()
    assert failure.value.exc_type == "UnserializableValueError"
    assert "{1, 2}" in str(failure.value)


def test_a_request_in_another_content_type_gets_a_json_error_reply_at_once(
    cluster: Any, amqp_uri: str
) -> None:
    """JSON only (see `messaging.rpc`): a pickled request is not run, and its caller hears
    why right away instead of waiting for its deadline."""
    connection = connect(amqp_uri)
    try:
        channel = connection.channel()
        reply_queue, _, _ = channel.queue_declare("", exclusive=True)
        channel.queue_bind(reply_queue, "nameko-rpc", routing_key=reply_queue)
        request = amqp.Message(
            pickle.dumps({"args": [[1, 2]], "kwargs": {}}),
            content_type="application/x-python-serialize",
            reply_to=reply_queue,
            correlation_id="pickled-1",
        )
        channel.basic_publish(request, exchange="nameko-rpc", routing_key="calc.sum")
        reply = wait_for(lambda: channel.basic_get(reply_queue, no_ack=True), 10, "a reply")
    finally:
        connection.close()
    assert reply.properties["content_type"] == "application/json"
    assert reply.properties["correlation_id"] == "pickled-1"
    error = json.loads(reply.body)["error"]
    assert error["exc_type"] == "MalformedRequest"
    assert "application/json only" in error["value"]
