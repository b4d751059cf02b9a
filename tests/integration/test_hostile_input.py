"""Named hostile inputs: each gets a JSON 4xx quickly, and none ties up the server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import eventlet
import pytest
import requests

from calc.service import CalcService
from gateway.service import GatewayService
from harness.inprocess import RunningServices, ServicesFactory
from log.service import LogService

TIMEOUT = 10
BODY_LIMIT = 65536
HTTP_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def stack(module_services: ServicesFactory) -> RunningServices:
    services = module_services(
        GatewayService,
        CalcService,
        LogService,
        max_body_bytes=BODY_LIMIT,
        http_timeout=HTTP_TIMEOUT,
    )
    services.wait_until_ready()
    return services


def raw_exchange(
    stack: RunningServices, data: bytes, read_timeout: float = 5
) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes; return the status, headers and JSON body of the answer."""
    host, port = stack.settings.web_server_address.split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received or not complete(received):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body)


def complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(": ")
        if name.lower() == "content-length":
            return len(body) >= int(value)
    return False


def post_sum(stack: RunningServices, body: bytes, **headers: str) -> requests.Response:
    return requests.post(stack.base_url + "/sum", data=body, timeout=TIMEOUT,
                         headers={"Content-Type": "application/json", **headers})  # fmt: skip


def assert_json_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert "Traceback" not in response.text


def test_a_body_far_over_the_limit_is_refused_from_its_header_alone(stack: RunningServices) -> None:
    started = time.monotonic()
    status, headers, body = raw_exchange(stack, (
        b"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\n\r\n{\"numbers\": [1"
    ))  # fmt: skip
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert headers["Connection"] == "close"
    assert time.monotonic() - started < 1


def test_a_chunked_body_that_grows_past_the_limit_is_refused(stack: RunningServices) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"numbers": ['
        for _ in range(40_000):
            yield b"1,"

    response = requests.post(stack.base_url + "/sum", data=chunks(), timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert_json_error(response, 413, "payload_too_large")


def test_a_slow_drip_body_times_out_without_tying_up_the_server(stack: RunningServices) -> None:
    host, port = stack.settings.web_server_address.split(":")
    dripper = socket.create_connection((host, int(port)), timeout=10)
    dripper.sendall(b"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n")  # fmt: skip

    def drip() -> bytes:
        for byte in b'{"numbers": [1, 2, 3]}':
            try:
                dripper.sendall(bytes([byte]))
            except OSError:
                break
            eventlet.sleep(0.3)
        return dripper.recv(65536)

    started = time.monotonic()
    answer = eventlet.spawn(drip)
    # Meanwhile the server answers everyone else at once.
    for _ in range(5):
        assert requests.get(stack.base_url + "/sum?numbers=1,2", timeout=2).status_code == 200
    reply = answer.wait()
    dripper.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    assert b'"request_timeout"' in reply
    assert time.monotonic() - started < HTTP_TIMEOUT + 1.5


@pytest.mark.parametrize(
    "body, code",
    [
        (b'{"numbers": [' + b"9" * 5000 + b"]}", "invalid_json"),
        (b'{"numbers": ["12345678901234567890"]}', "invalid_numbers"),
        (b'{"numbers": [NaN, 1]}', "invalid_json"),
        (b'{"numbers": [Infinity]}', "invalid_json"),
        (b'{"numbers": [-Infinity]}', "invalid_json"),
        (b'{"numbers": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "payload_too_large"),
        (b'{"numbers": ' + b"[" * 2000 + b"]" * 2000 + b"}", "invalid_json"),
        (b'{"numbers": ' + b"[" * 50 + b"]" * 50 + b"}", "invalid_numbers"),
        (b'{"numbers": [true, false]}', "invalid_numbers"),
        (b'{"numbers": ["1", "2"]}', "invalid_numbers"),
        (b'{"numbers": [1], "numbers": [2]}', "invalid_json"),
        (b'{"numbers": [1], "mode": "fast"}', "invalid_body"),
        (b'{"numbers": [1\xff]}', "invalid_json"),
        (b"", "invalid_json"),
        (b"null", "invalid_body"),
    ],
)
def test_hostile_bodies_get_a_json_400(stack: RunningServices, body: bytes, code: str) -> None:
    status = 413 if code == "payload_too_large" else 400
    assert_json_error(post_sum(stack, body), status, code)


def test_nesting_deeper_than_the_parser_goes_is_refused_not_crashed(
    stack: RunningServices,
) -> None:
    deep = b'{"numbers": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert len(deep) < BODY_LIMIT
    response = post_sum(stack, deep)
    assert_json_error(response, 400, "invalid_json")
    assert "nested too deeply" in response.json()["error"]["message"]


def test_huge_but_convertible_integers_are_summed_exactly(stack: RunningServices) -> None:
    big = 10**1000
    response = requests.get(stack.base_url + f"/sum?numbers={big},1,-{big}", timeout=TIMEOUT)
    assert response.json()["result"] == 1
    assert_json_error(
        requests.get(stack.base_url + "/sum?numbers=" + "9" * 5000, timeout=TIMEOUT),
        400, "invalid_numbers",
    )  # fmt: skip


def test_a_wrong_content_type_is_a_415(stack: RunningServices) -> None:
    response = requests.post(stack.base_url + "/sum", data=b'{"numbers": [1]}',
                             headers={"Content-Type": "text/plain"}, timeout=TIMEOUT)  # fmt: skip
    assert_json_error(response, 415, "unsupported_media_type")


def test_thousands_of_query_parameters_are_handled(stack: RunningServices) -> None:
    noise = "&".join(f"p{i}=1" for i in range(1000))
    response = requests.get(stack.base_url + f"/sum?numbers=1,2&{noise}", timeout=TIMEOUT)
    assert response.json()["result"] == 3
    too_long = "&".join(f"p{i}=1" for i in range(3000))
    assert_json_error(
        requests.get(stack.base_url + f"/sum?numbers=1&{too_long}", timeout=TIMEOUT),
        414, "uri_too_long",
    )  # fmt: skip


@pytest.mark.parametrize(
    "raw, status, code",
    [
        (b"GET /sum?numbers=1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
         431, "header_too_large"),
        (b"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"),
        (b"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n", 400, "bad_request"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/9.9\r\n\r\n", 505, "http_version_not_supported"),
    ],
)  # fmt: skip
def test_malformed_http_gets_a_json_error_from_the_server_itself(
    stack: RunningServices, raw: bytes, status: int, code: str
) -> None:
    got_status, headers, body = raw_exchange(stack, raw)
    assert (got_status, body["error"]["code"]) == (status, code)
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Request-ID"]


@pytest.mark.parametrize("request_id", ["x" * 129, "evil\x01id", "a b", "\u00e9t\u00e9"])
def test_unsafe_request_ids_are_replaced_before_they_are_echoed_or_logged(
    stack: RunningServices, request_id: str
) -> None:
    header = request_id.encode("utf-8").decode("latin-1")
    response = requests.get(stack.base_url + "/sum?numbers=1",
                            headers={"X-Request-ID": header}, timeout=TIMEOUT)  # fmt: skip
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != header
    assert len(response.headers["X-Request-ID"]) == 32


def test_the_server_is_healthy_after_all_of_it(stack: RunningServices) -> None:
    assert requests.get(stack.base_url + "/ready", timeout=TIMEOUT).status_code == 200
    assert requests.get(stack.base_url + "/sum?numbers=2,2", timeout=TIMEOUT).json()["result"] == 4
