"""The three PEX binaries as separate processes, configured only by env vars."""

from __future__ import annotations

import requests

from devstack.probes import amqp_ready
from devstack.processes import PackagedStack
from devstack.waiting import answers_ok, free_port, wait_for
from harness.log_entries import logged_request_ids
from harness.packaged import StackFactory
from harness.rabbit import TestNode

TIMEOUT = 10


def test_the_packaged_services_serve_the_api_and_stop_cleanly(
    packaged_stack: PackagedStack,
) -> None:
    stack = packaged_stack
    processes = stack.start_all()
    stack.wait_ready()
    base_url = stack.base_url
    got = requests.get(base_url + "/sum?numbers=1,2,3", headers={"X-Request-ID": "pex-get"},
                       timeout=TIMEOUT)  # fmt: skip
    assert (got.status_code, got.json()) == (200, {"result": 6, "request_id": "pex-get"})
    posted = requests.post(base_url + "/sum", json={"numbers": [0.5, 0.25]},
                           headers={"X-Request-ID": "pex-post"}, timeout=TIMEOUT)  # fmt: skip
    assert posted.json()["result"] == 0.75
    bad = requests.post(base_url + "/sum", json={"numbers": [1, "x"]}, timeout=TIMEOUT)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_numbers")

    wait_for(lambda: {"pex-get", "pex-post"} <= logged_request_ids(base_url, 10), 10,
             "both sums in the log")  # fmt: skip

    for name in ("gateway", "calc", "log"):
        assert processes[name].terminate() == 0, processes[name].output()

    for name, process in processes.items():
        records = process.log_records()
        assert records, f"{name} printed nothing"
        assert all(r["service"] == name for r in records)
        assert any(r["message"] == f"{name} stopped" for r in records)
    recorded = [r for r in processes["log"].log_records() if r["message"] == "sum computed"]
    assert {r["entry"]["request_id"] for r in recorded} == {"pex-get", "pex-post"}
    assert {r["request_id"] for r in recorded} == {"pex-get", "pex-post"}
    assert not any("guest:guest" in p.output() for p in processes.values())


def test_services_started_before_the_broker_wait_for_it(
    private_node: TestNode, stack_factory: StackFactory
) -> None:
    node = private_node
    stack = stack_factory(node.vhost_uri())
    processes = stack.start_all()
    base_url = stack.base_url

    wait_for(lambda: answers_ok(base_url + "/health"), 30, "the gateway to serve /health")
    not_ready = requests.get(base_url + "/ready", timeout=TIMEOUT)
    assert not_ready.status_code == 503
    assert not_ready.json()["reason"]["code"] == "broker_unavailable"

    node.start()
    stack.wait_ready()
    assert requests.get(base_url + "/sum?numbers=4,5", timeout=TIMEOUT).json()["result"] == 9
    for process in processes.values():
        assert process.running(), process.output()
    retries = [r for r in processes["gateway"].log_records() if "unreachable" in r["message"]]
    assert retries, "the gateway should say that it is waiting for the broker"


def test_amqp_probe_sees_a_missing_broker() -> None:
    assert not amqp_ready(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
