"""API keys and per-client rate limits on the gateway: the packaged services as processes."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from devstack.processes import PackagedStack
from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.otlp import OtlpReceiver
from harness.packaged import StackFactory

KEYS = {"alice": "alice-key-7f3c9a", "bob": "bob-key-19d2e4"}


def write_keys(path: Path, names: list[str]) -> None:
    lines = [f"{name}:{KEYS[name]}" for name in names]
    path.write_text("# name:key, one per line\n" + "\n".join(lines) + "\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


def get(stack: PackagedStack, path: str, key: str | None = None, header: str = "bearer",
        ) -> requests.Response:  # fmt: skip
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    return requests.get(stack.base_url + path, headers=headers, timeout=10)


def test_keys_are_required_on_the_api_and_a_revoked_one_is_refused(
    amqp_uri: str, stack_factory: StackFactory, tmp_path: Path, cleanup: Cleanup
) -> None:
    keys_file = tmp_path / "api-keys"
    write_keys(keys_file, ["alice", "bob"])
    receiver = OtlpReceiver()
    cleanup(receiver.stop)
    stack = stack_factory(
        amqp_uri,
        API_KEYS_FILE=str(keys_file),
        ACCESS_LOG="true",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    processes = stack.start_all()
    stack.wait_ready()

    for key in (None, "wrong-key", KEYS["alice"][:-1]):
        for path in ("/sum?numbers=1,2", "/logs"):
            refused = get(stack, path, key)
            assert refused.status_code == 401, (path, key)
            assert refused.json()["error"]["code"] == "unauthorized"
            assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(stack, "/sum?numbers=1,2", KEYS["alice"]).json()["result"] == 3
    assert get(stack, "/sum?numbers=2,2", KEYS["bob"], header="x-api-key").json()["result"] == 4

    def logs_answered() -> bool:
        # The gateway is ready once calc answers; log may still be connecting (503).
        status = get(stack, "/logs", KEYS["alice"]).status_code
        assert status in (200, 503), status
        return status == 200

    wait_for(logs_answered, 30, "/logs answered with a valid key")
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/asyncapi.json"):
        assert get(stack, path).status_code == 200, path

    write_keys(keys_file, ["alice"])  # bob's key revoked
    wait_for(lambda: get(stack, "/sum?numbers=1", KEYS["bob"]).status_code == 401, 10,
             "the revoked key refused")  # fmt: skip
    assert get(stack, "/sum?numbers=1", KEYS["alice"]).status_code == 200

    gateway = processes["gateway"]
    named = [r for r in gateway.log_records() if r.get("api_key") == "alice"]
    assert named, "the access log names the key"
    assert not any(key in process.output() for process in processes.values()
                   for key in KEYS.values()), "no key is ever logged"  # fmt: skip
    spans = wait_for(lambda: [s for s in receiver.spans
                              if s.attributes.get("api_key.name") == "bob"], 20,
                     "a request's span naming its key")  # fmt: skip
    assert all(s.kind == "SPAN_KIND_SERVER" for s in spans)


def test_a_client_over_its_rate_gets_429_and_others_are_unaffected(
    amqp_uri: str, stack_factory: StackFactory, tmp_path: Path
) -> None:
    keys_file = tmp_path / "api-keys"
    write_keys(keys_file, ["alice", "bob"])
    stack = stack_factory(amqp_uri, API_KEYS_FILE=str(keys_file), RATE_LIMIT="2", RATE_BURST="5")
    stack.start_all()
    stack.wait_ready()

    session = requests.Session()
    answers = [session.get(stack.base_url + "/sum?numbers=1", timeout=10,
                           headers={"X-API-Key": KEYS["alice"]}) for _ in range(12)]  # fmt: skip
    codes = [answer.status_code for answer in answers]
    assert codes[:5] == [200] * 5, codes  # the burst
    limited = [answer for answer in answers if answer.status_code == 429]
    assert len(limited) >= 5, codes
    assert all(answer.json()["error"]["code"] == "too_many_requests" for answer in limited)
    assert all(1 <= int(answer.headers["Retry-After"]) <= 60 for answer in limited)
    for _ in range(5):
        assert get(stack, "/sum?numbers=1", KEYS["bob"]).status_code == 200, "bob has his own"
    assert get(stack, "/health").status_code == 200  # not limited
