"""The PEXes on one host with their default ports, and what a service does when a port it
needs is taken: one log line that names the setting, a non-zero exit, no traceback."""

from __future__ import annotations

import socket

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from devstack.waiting import answers_ok, free_port, wait_for
from harness.cleanup import Cleanup
from harness.default_ports import METRICS_PORTS, hold_default_ports, waits_for_the_default_ports
from harness.log_entries import logged_request_ids
from harness.packaged import StackFactory

TIMEOUT = 10


def worker_counts(port: int) -> dict[str, float]:
    """The workers that the /metrics endpoint on `port` has counted, by entrypoint."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT).text
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "entrypoint_requests"]
    return {s.labels["entrypoint"]: s.value for s in family.samples if s.name.endswith("_total")}


@waits_for_the_default_ports
def test_calc_log_and_gateway_share_a_host_with_their_default_ports(
    cleanup: Cleanup, amqp_uri: str, stack_factory: StackFactory
) -> None:
    hold_default_ports(cleanup)  # until the stack, started after it, has stopped
    stack = stack_factory(amqp_uri, default_metrics_ports=True)
    processes = stack.start_all()
    assert not [name for name, p in processes.items() if "METRICS_PORT" in p.env]

    def exited() -> list[str]:
        """The output of each service that has exited: it says why."""
        return [p.output() for p in processes.values() if not p.running()]

    ready = stack.base_url + "/ready"
    wait_for(lambda: exited() or answers_ok(ready), 60, "the gateway's /ready")
    assert not exited(), exited()

    got = requests.get(stack.base_url + "/sum?numbers=1,2,3", headers={"X-Request-ID": "ports"},
                       timeout=TIMEOUT)  # fmt: skip
    assert (got.status_code, got.json()["result"]) == (200, 6)

    wait_for(lambda: exited() or "ports" in logged_request_ids(stack.base_url), TIMEOUT,
             "the sum in the log")  # fmt: skip
    assert not exited(), exited()

    # Each endpoint is its own service's: calc counts the sum, log the event it stored.
    calc, log = (worker_counts(METRICS_PORTS[service]) for service in ("calc", "log"))
    assert (calc["sum"], log["record_sum"]) == (1, 1)
    assert "record_sum" not in calc and "sum" not in log


@pytest.mark.parametrize(
    ("service", "setting", "value", "address"),
    [
        ("calc", "METRICS_PORT", "{port}", "0.0.0.0:{port}"),
        ("gateway", "WEB_SERVER_ADDRESS", "127.0.0.1:{port}", "127.0.0.1:{port}"),
    ],
)
def test_a_taken_port_stops_the_service_with_one_line_that_names_the_setting(
    cleanup: Cleanup, stack_factory: StackFactory, service: str, setting: str, value: str,
    address: str,
) -> None:  # fmt: skip
    holder = socket.create_server(("127.0.0.1", 0))
    cleanup(holder.close)
    port = holder.getsockname()[1]
    # No broker: the port is checked before the service connects to one.
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    process = stack_factory(nowhere, **{setting: value.format(port=port)}).start(service)

    wait_for(lambda: not process.running(), 30, f"{service} to exit")
    output = process.output()
    assert process.terminate() != 0, output  # it has exited: its exit code
    assert "Traceback" not in output, output
    records = process.log_records()
    listen = address.format(port=port)
    expected = f"cannot listen on {listen} (Address already in use): change {setting}"
    assert [r["message"] for r in records if r["level"] != "INFO"] == [expected], output
    assert records[-1]["message"] == expected
