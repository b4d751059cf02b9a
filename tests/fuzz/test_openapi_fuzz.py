"""Thousands of generated requests, valid and invalid, from the gateway's /openapi.json.

For each operation schemathesis sends the document's examples, requests that follow the
document and requests that break it, and runs every one of its checks on every answer:
a request the document allows is not refused, one it forbids is; never a 5xx; status
codes, content types, headers and bodies as documented, each error code among those the
document lists for that operation and status. No body may show a stack trace or an
internal name. Afterwards the gateway must still be healthy and ready.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from calc.service import CalcService
from gateway.service import GatewayService
from harness.inprocess import RunningServices, ServicesFactory
from log.service import LogService

EXAMPLES_PER_OPERATION = 1000


@dataclass(frozen=True)
class Answer:
    """What one generated request was answered, for the checks after fuzzing."""

    operation: str  # e.g. "GET /sum"
    query: dict[str, list[str]]
    status: int
    body: Any


answers: list[Answer] = []
LEAKS = (
    "Traceback",
    'File "',
    ".py",
    "nameko.",
    "werkzeug",
    "messaging.",
    "runtime.",
    "amqp_client.",
)


@pytest.fixture(scope="module")
def stack(module_services: ServicesFactory) -> RunningServices:
    services = module_services(
        GatewayService,
        CalcService,
        LogService,
        max_numbers=50,
        max_body_bytes=16_384,
        max_workers=64,
    )
    services.wait_until_ready()
    return services


@pytest.fixture(scope="module")
def api(stack: RunningServices) -> Any:
    return schemathesis.openapi.from_url(stack.base_url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_generated_requests_get_documented_answers_and_never_a_5xx(case: Any) -> None:
    response = case.call(timeout=10)
    case.validate_response(response)  # every check the tool has: none is excluded
    query = parse_qs(urlsplit(response.request.url).query, keep_blank_values=True)
    # By the method sent: the tool also sends an operation's request with other methods.
    operation = f"{response.request.method} {case.operation.path}"
    body = response.json()
    answers.append(Answer(operation, query, response.status_code, body))
    assert response.status_code < 500, response.text
    if 400 <= response.status_code < 500:
        assert body["error"]["code"] and body["error"]["message"]
    if case.operation.path == "/asyncapi.json":
        return  # the messaging contract: Nameko's header names and error classes, by design
    for leak in LEAKS:
        assert leak not in response.text, (leak, response.text)


def test_sums_past_the_largest_float_were_sent_and_answered() -> None:
    # The document's examples send one to each operation: the answer is the integer
    # nearest to the exact sum, and the checks above found it as documented.
    answered = {
        answer.operation
        for answer in answers
        if answer.operation.endswith(" /sum")
        and answer.status == 200
        and abs(answer.body["result"]) > sys.float_info.max
    }
    assert answered == {"GET /sum", "POST /sum"}


def test_an_empty_query_value_was_sent_and_refused_as_documented() -> None:
    # The document's minItems forbids it, so the checks above expected a refusal.
    empty = [a for a in answers if a.operation == "GET /sum" and a.query.get("numbers") == [""]]
    assert empty, "no GET /sum?numbers= was generated"
    assert {(a.status, a.body["error"]["code"]) for a in empty} == {(400, "missing_numbers")}


def test_the_gateway_is_healthy_after_fuzzing(stack: RunningServices) -> None:
    assert len(answers) >= 2000, f"only {len(answers)} generated requests"
    statuses = {answer.status for answer in answers}
    assert any(400 <= status < 500 for status in statuses) and 200 in statuses
    assert requests.get(stack.base_url + "/ready", timeout=10).status_code == 200
    response = requests.post(stack.base_url + "/sum", json={"numbers": [1, 2]}, timeout=10)
    assert response.json()["result"] == 3
