"""The three PEX binaries as separate processes, configured only by env vars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.cleanup import Cleanup
from harness.processes import ServiceProcess, wait_until_ready
from harness.rabbit import PrivateNode, amqp_ready
from harness.waiting import free_port, wait_for

TIMEOUT = 10


def start_stack(
    amqp_uri: str, workdir: Path, cleanup: Cleanup
) -> tuple[str, dict[str, ServiceProcess]]:
    port = free_port()
    env = {
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "LOG_STORE_PATH": str(workdir / "store" / "log.sqlite3"),
        "RPC_TIMEOUT": "3",
    }
    processes = {}
    for name in ("calc", "log", "gateway"):
        processes[name] = ServiceProcess(name, env, workdir)
        cleanup(processes[name].ensure_stopped)
    return f"http://127.0.0.1:{port}", processes


@pytest.fixture
def stack(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> Iterator[tuple[str, dict[str, ServiceProcess]]]:
    base_url, processes = start_stack(amqp_uri, tmp_path, cleanup)
    wait_until_ready(base_url, 60)
    yield base_url, processes


def test_the_packaged_services_serve_the_api_and_stop_cleanly(
    stack: tuple[str, dict[str, ServiceProcess]],
) -> None:
    base_url, processes = stack
    got = requests.get(base_url + "/sum?numbers=1,2,3", headers={"X-Request-ID": "pex-get"},
                       timeout=TIMEOUT)  # fmt: skip
    assert (got.status_code, got.json()) == (200, {"result": 6, "request_id": "pex-get"})
    posted = requests.post(base_url + "/sum", json={"numbers": [0.5, 0.25]},
                           headers={"X-Request-ID": "pex-post"}, timeout=TIMEOUT)  # fmt: skip
    assert posted.json()["result"] == 0.75
    bad = requests.post(base_url + "/sum", json={"numbers": [1, "x"]}, timeout=TIMEOUT)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_numbers")

    def logged() -> set[str]:
        # /ready asks calc only: log may still be starting (a 503) on the first tries.
        answer = requests.get(base_url + "/logs?limit=10", timeout=TIMEOUT)
        if answer.status_code == 503:
            return set()
        return {e["request_id"] for e in answer.json()["entries"]}

    wait_for(lambda: {"pex-get", "pex-post"} <= logged(), 10, "both sums in the log")

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
    private_node: PrivateNode, tmp_path: Path, cleanup: Cleanup
) -> None:
    node = private_node
    base_url, processes = start_stack(node.vhost_uri(), tmp_path, cleanup)

    wait_for(lambda: requests_ok(base_url + "/health"), 30, "the gateway to serve /health")
    not_ready = requests.get(base_url + "/ready", timeout=TIMEOUT)
    assert not_ready.status_code == 503
    assert not_ready.json()["reason"]["code"] == "broker_unavailable"

    node.start()
    wait_until_ready(base_url, 60)
    assert requests.get(base_url + "/sum?numbers=4,5", timeout=TIMEOUT).json()["result"] == 9
    for process in processes.values():
        assert process.process.poll() is None, process.output()
    retries = [r for r in processes["gateway"].log_records() if "unreachable" in r["message"]]
    assert retries, "the gateway should say that it is waiting for the broker"


def requests_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_amqp_probe_sees_a_missing_broker() -> None:
    assert not amqp_ready(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
