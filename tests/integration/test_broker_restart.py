"""A broker restart: fast 503s while it is down, then every service reconnects by itself."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from calc.service import CalcService
from devstack.waiting import wait_for
from gateway.service import GatewayService
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from harness.rabbit import TestNode
from log.service import LogService
from log.store import EntryStore

TIMEOUT = 10


def status_of(url: str) -> int:
    return requests.get(url, timeout=TIMEOUT).status_code


def test_services_reconnect_after_the_broker_restarts(
    private_node: TestNode, tmp_path: Path, cleanup: Cleanup
) -> None:
    node = private_node
    node.start()
    services = start_services([GatewayService, CalcService, LogService], node.vhost_uri(), tmp_path)
    cleanup(services.stop)
    services.wait_until_ready()
    assert status_of(services.base_url + "/sum?numbers=1") == 200

    node.stop()
    started = time.monotonic()
    down = requests.get(services.base_url + "/sum?numbers=2", timeout=TIMEOUT)
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "broker_unavailable"
    assert time.monotonic() - started < 1
    assert status_of(services.base_url + "/ready") == 503

    node.start()
    back = time.monotonic()
    wait_for(lambda: status_of(services.base_url + "/sum?numbers=3") == 200, 30, "sums again")
    assert time.monotonic() - back < 30

    store = EntryStore(services.settings.log_store_path)
    wait_for(lambda: sorted(e.payload["result"] for e in store.recent(10)) == [1, 3], 30,
             "both successful sums in the log")  # fmt: skip
