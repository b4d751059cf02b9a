"""The HTTP API end to end, with all three services running in this process."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import requests

from calc.service import CalcService
from devstack.waiting import wait_for
from gateway.service import GatewayService
from harness.inprocess import RunningServices, ServicesFactory
from log.service import LogService

TIMEOUT = 10


@pytest.fixture(scope="module")
def stack(module_services: ServicesFactory) -> RunningServices:
    # One stack for the module: each test tells its requests apart by request id.
    services = module_services(
        GatewayService, CalcService, LogService, max_numbers=100, max_body_bytes=4096
    )
    services.wait_until_ready()
    return services


def url(stack: RunningServices, path: str) -> str:
    return stack.base_url + path


def entries_for(stack: RunningServices, request_id: str) -> list[dict[str, Any]]:
    response = requests.get(url(stack, "/logs?limit=1000"), timeout=TIMEOUT)
    assert response.status_code == 200
    return [e for e in response.json()["entries"] if e["request_id"] == request_id]


def test_get_sum_answers_the_exact_sum_with_a_request_id(stack: RunningServices) -> None:
    response = requests.get(url(stack, "/sum?numbers=1,2,3"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["result"] == 6
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_post_sum_answers_the_correctly_rounded_sum(stack: RunningServices) -> None:
    response = requests.post(
        url(stack, "/sum"), json={"numbers": [1e16, 1.0, -1e16]}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.json()["result"] == 1.0


def test_big_integers_come_back_exact(stack: RunningServices) -> None:
    response = requests.post(
        url(stack, "/sum"), json={"numbers": [10**40, 1, -(10**40)]}, timeout=TIMEOUT
    )
    assert response.json()["result"] == 1


def test_a_sum_past_the_largest_float_is_the_nearest_integer(stack: RunningServices) -> None:
    largest = sys.float_info.max
    posted = requests.post(
        url(stack, "/sum"), json={"numbers": [largest, largest]}, timeout=TIMEOUT
    )
    got = requests.get(
        url(stack, "/sum"), params={"numbers": f"{largest!r},{largest!r}"}, timeout=TIMEOUT
    )
    for response in (posted, got):
        assert response.status_code == 200, response.text
        assert response.json()["result"] == 2 * int(largest)


def test_the_request_id_travels_to_the_stored_log_entry(stack: RunningServices) -> None:
    response = requests.post(
        url(stack, "/sum"),
        json={"numbers": [2, 3]},
        headers={"X-Request-ID": "trace-me-42"},
        timeout=TIMEOUT,
    )
    assert response.headers["X-Request-ID"] == "trace-me-42"
    assert response.json()["request_id"] == "trace-me-42"
    (entry,) = wait_for(lambda: entries_for(stack, "trace-me-42"), 10, "the log entry")
    assert entry["source"] == "gateway"
    assert entry["payload"] == {"numbers": [2, 3], "result": 5}
    assert entry["time"].endswith("+00:00")


def test_an_unsafe_request_id_is_replaced_not_echoed(stack: RunningServices) -> None:
    response = requests.get(
        url(stack, "/sum?numbers=1"), headers={"X-Request-ID": "x" * 500}, timeout=TIMEOUT
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != "x" * 500
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("GET", "/sum", {}, 400, "missing_numbers"),
    ("GET", "/sum?numbers=", {}, 400, "missing_numbers"),
    ("GET", "/sum?numbers=1,x", {}, 400, "invalid_numbers"),
    ("GET", "/sum?numbers=nan", {}, 400, "invalid_numbers"),
    ("GET", "/sum?numbers=1e999", {}, 400, "invalid_numbers"),
    ("GET", "/sum?numbers=" + ",".join(["1"] * 101), {}, 400, "invalid_numbers"),
    ("POST", "/sum", {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
     400, "invalid_json"),
    ("POST", "/sum", {"json": {"numbers": "1,2"}}, 400, "invalid_numbers"),
    ("POST", "/sum", {"json": {"numbers": [1, True]}}, 400, "invalid_numbers"),
    ("POST", "/sum", {"json": {"numbers": [1, "2"]}}, 400, "invalid_numbers"),
    ("POST", "/sum", {"json": {"numbers": [[1]]}}, 400, "invalid_numbers"),
    ("POST", "/sum", {"json": {"numbers": [None]}}, 400, "invalid_numbers"),
    ("POST", "/sum", {"json": {"numbers": []}}, 400, "missing_numbers"),
    ("POST", "/sum", {"json": {}}, 400, "missing_numbers"),
    ("GET", "/sum?numbers=" + "9" * 4250, {}, 400, "out_of_range"),
    ("POST", "/sum", {"data": b'{"numbers": [NaN]}',
                      "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
    ("POST", "/sum", {"data": b"numbers=1", "headers": {"Content-Type": "text/plain"}},
     415, "unsupported_media_type"),
    ("POST", "/sum", {"data": b"[" + b"1," * 3000 + b"1]",
                      "headers": {"Content-Type": "application/json"}}, 413, "payload_too_large"),
    ("GET", "/nope", {}, 404, "not_found"),
    ("DELETE", "/sum", {}, 405, "method_not_allowed"),
    ("GET", "/logs?limit=0", {}, 400, "invalid_limit"),
]  # fmt: skip


@pytest.mark.parametrize("method, path, kwargs, status, code", BAD_REQUESTS)
def test_bad_requests_get_a_json_error_with_the_right_status(
    stack: RunningServices, method: str, path: str, kwargs: dict[str, Any], status: int, code: str
) -> None:
    response = requests.request(method, url(stack, path), timeout=TIMEOUT, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"]
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_method_not_allowed_lists_the_allowed_methods(stack: RunningServices) -> None:
    response = requests.put(url(stack, "/sum"), timeout=TIMEOUT)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_health_and_ready(stack: RunningServices) -> None:
    assert requests.get(url(stack, "/health"), timeout=TIMEOUT).json() == {"status": "ok"}
    ready = wait_for(
        lambda: requests.get(url(stack, "/ready"), timeout=TIMEOUT).status_code == 200,
        10,
        "readiness",
    )
    assert ready


def test_logs_lists_the_newest_entries_first(stack: RunningServices) -> None:
    ours = ["order-1", "order-2", "order-3"]
    for request_id in ours:
        requests.get(url(stack, "/sum?numbers=1"), headers={"X-Request-ID": request_id},
                     timeout=TIMEOUT)  # fmt: skip

    def our_entries() -> list[str]:
        entries = requests.get(url(stack, "/logs?limit=1000"), timeout=TIMEOUT).json()["entries"]
        return [e["request_id"] for e in entries if e["request_id"] in ours]

    assert wait_for(lambda: our_entries() == ours[::-1], 10, "our entries, newest first")
    limited = requests.get(url(stack, "/logs?limit=2"), timeout=TIMEOUT).json()["entries"]
    assert len(limited) == 2


def test_the_gateway_leaves_no_calls_or_confirms_pending(stack: RunningServices) -> None:
    from messaging.events import EventPublisher
    from messaging.rpc import RpcClient

    for _ in range(20):
        requests.get(url(stack, "/sum?numbers=1,2"), timeout=TIMEOUT)
    assert stack.extension("gateway", RpcClient).session.in_flight == 0
    assert stack.extension("gateway", EventPublisher).session.in_flight == 0
