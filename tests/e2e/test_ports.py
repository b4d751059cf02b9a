"""What a service does when a port it needs is taken: one log line that names the setting,
a non-zero exit, no traceback."""

from __future__ import annotations

import socket

import pytest

from devstack.waiting import free_port, wait_for
from harness.cleanup import Cleanup
from harness.packaged import StackFactory


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
