"""What the gateway does when a part of the system is missing, slow or unreachable."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import eventlet
import greenlet
import requests

from calc.service import CalcService
from devstack.waiting import free_port, wait_for
from gateway.service import GatewayService
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from harness.rabbit import uri_with_port
from log.service import LogService
from log.store import EntryStore
from messaging.rpc import RpcClient, rpc

TIMEOUT = 10


class StuckCalc(CalcService):
    """A calc that takes far longer than any caller's deadline."""

    @rpc
    def sum(self, numbers: object) -> int:
        eventlet.sleep(30)
        return 0


def test_calc_not_running_is_a_fast_503(amqp_uri: str, tmp_path: Path, cleanup: Cleanup) -> None:
    services = start_services([GatewayService, LogService], amqp_uri, tmp_path)
    cleanup(services.stop)
    services.wait_until_linked()

    started = time.monotonic()
    response = requests.get(services.base_url + "/sum?numbers=1", timeout=TIMEOUT)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert time.monotonic() - started < 2
    ready = requests.get(services.base_url + "/ready", timeout=TIMEOUT)
    assert ready.status_code == 503


def test_a_stuck_calc_is_a_504_within_the_rpc_timeout(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    services = start_services(
        [GatewayService, StuckCalc, LogService], amqp_uri, tmp_path, rpc_timeout=0.5
    )
    cleanup(services.stop)
    services.wait_until_linked()

    started = time.monotonic()
    response = requests.get(services.base_url + "/sum?numbers=1", timeout=TIMEOUT)
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "timeout"
    assert 0.5 <= elapsed < 1.5
    assert services.extension("gateway", RpcClient).session.in_flight == 0


def test_an_unreachable_broker_is_a_fast_503_and_not_ready(
    tmp_path: Path, cleanup: Cleanup
) -> None:
    nowhere = uri_with_port("amqp://guest:guest@127.0.0.1/", free_port())
    services = start_services([GatewayService], nowhere, tmp_path, linked=False)
    cleanup(services.stop)

    assert requests.get(services.base_url + "/health", timeout=TIMEOUT).status_code == 200
    started = time.monotonic()
    response = requests.get(services.base_url + "/sum?numbers=1", timeout=TIMEOUT)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "broker_unavailable"
    assert time.monotonic() - started < 1
    assert requests.get(services.base_url + "/ready", timeout=TIMEOUT).status_code == 503


def test_sums_made_while_log_is_down_are_recorded_when_it_starts(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    front = start_services([GatewayService, CalcService], amqp_uri, tmp_path)
    cleanup(front.stop)
    front.wait_until_linked()
    for n in range(5):
        response = requests.get(front.base_url + f"/sum?numbers={n}", timeout=TIMEOUT)
        assert response.status_code == 200

    store_path = tmp_path / "late-log.sqlite3"
    log = start_services([LogService], amqp_uri, tmp_path, log_store_path=str(store_path))
    cleanup(log.stop)
    store = EntryStore(str(store_path))
    wait_for(lambda: store.count() == 5, 10, "five entries")
    assert sorted(e.payload["result"] for e in store.recent(10)) == [0, 1, 2, 3, 4]


def live_greenlets() -> int:
    # type(), not isinstance(): the heap holds dead weak proxies, which raise on access.
    return sum(
        1 for obj in gc.get_objects() if issubclass(type(obj), greenlet.greenlet) and not obj.dead
    )


def test_calc_down_is_a_504_without_leaks_and_recovery_is_immediate(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    front = start_services([GatewayService, LogService], amqp_uri, tmp_path, rpc_timeout=0.3)
    cleanup(front.stop)
    calc = start_services([CalcService], amqp_uri, tmp_path)
    front.wait_until_ready()
    calc.stop()  # its durable queue stays, with nobody consuming

    baseline = live_greenlets()
    for _ in range(20):
        started = time.monotonic()
        response = requests.get(front.base_url + "/sum?numbers=1", timeout=TIMEOUT)
        assert response.status_code == 504
        assert time.monotonic() - started < 0.3 + 0.5
    assert front.extension("gateway", RpcClient).session.in_flight == 0
    assert live_greenlets() <= baseline + 2

    calc = start_services([CalcService], amqp_uri, tmp_path)
    cleanup(calc.stop)
    # The 20 expired requests died in the queue: the first new call is answered.
    wait_for(lambda: requests.get(front.base_url + "/ready", timeout=TIMEOUT).ok, 10, "ready")
    started = time.monotonic()
    assert requests.get(front.base_url + "/sum?numbers=2", timeout=TIMEOUT).json()["result"] == 2
    assert time.monotonic() - started < 0.3
