from typing import Any
from unittest.mock import Mock

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from gateway.service import GatewayService
from messaging.errors import BrokerUnavailable, CallTimeout
from runtime.config import Settings


def make_gateway(**dependencies: Any) -> GatewayService:
    return worker_factory(GatewayService, settings=Settings(), request_id="req-1", **dependencies)


def get(path: str) -> Request:
    return Request(EnvironBuilder(method="GET", path=path).get_environ())


def test_a_sum_is_computed_by_calc_and_published_before_answering() -> None:
    gateway = make_gateway()
    gateway.calc.sum.return_value = 6
    assert gateway.sum_from_query(get("/sum?numbers=1,2,3")) == {
        "result": 6,
        "request_id": "req-1",
    }
    gateway.calc.sum.assert_called_once_with(numbers=[1, 2, 3])
    (event_id, payload), _ = gateway.sum_computed.call_args
    assert payload["event_id"] == event_id
    assert (payload["request_id"], payload["numbers"], payload["result"]) == (
        "req-1",
        [1, 2, 3],
        6,
    )


def test_no_answer_is_given_when_the_event_cannot_be_published() -> None:
    gateway = make_gateway(sum_computed=Mock(side_effect=BrokerUnavailable("down")))
    gateway.calc.sum.return_value = 6
    with pytest.raises(BrokerUnavailable):
        gateway.sum_from_query(get("/sum?numbers=1,2,3"))


def test_ready_reports_why_calc_did_not_answer() -> None:
    gateway = make_gateway()
    gateway.calc.ping.side_effect = CallTimeout("calc.ping did not answer within 1s")
    status, body = gateway.ready(get("/ready"))
    assert status == 503
    assert body["reason"]["code"] == "timeout"
