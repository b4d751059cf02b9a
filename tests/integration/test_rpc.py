"""The services' RPC methods as any Nameko client sees them (``nameko shell`` included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from calc.service import CalcService
from domain.errors import InvalidArgument, InvalidNumbers
from harness.inprocess import start_services
from log.service import LogService


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
