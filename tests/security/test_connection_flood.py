"""The gateway under floods of connections, capped at MAX_CONNECTIONS, and of slow
request bodies: the packaged services as processes, the floods from this test."""

from __future__ import annotations

import socket
import statistics
import time
from urllib.parse import urlsplit

import requests

from devstack.processes import open_files, rss_megabytes
from devstack.waiting import wait_for
from harness.cleanup import Cleanup
from harness.flood import ConnectionFlood
from harness.packaged import StackFactory

CAP = 1000
# Files the gateway holds besides its HTTP connections: its listener, broker links,
# log files, the metrics port, its venv's shared libraries.
OWN_FILES_SLACK = 100
# New connections a second: a fast flood the gateway keeps up with (docs/security.md gives
# its measured accept rate; past it, the kernel's accept queue makes everyone wait).
FLOOD_RATE = 2000
# A POST whose body never comes: the app waits in its read (HTTP_TIMEOUT).
STALLED_BODY = (
    b"POST /sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b"Content-Length: 64\r\n\r\n{"
)


def test_a_flood_of_connections_is_capped_and_real_clients_are_served_throughout(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    stack = stack_factory(amqp_uri, MAX_CONNECTIONS=str(CAP), HTTP_TIMEOUT="60")
    gateway = stack.start_all()["gateway"]
    stack.wait_ready()
    url = urlsplit(stack.base_url)
    address = (url.hostname or "", url.port or 0)
    files_before = open_files(gateway.pid)

    # Idle connections, 20 times the cap: each new one takes the place of the one that
    # has waited longest, so a real client's fresh connection always gets in.
    flood = ConnectionFlood(address, total=20 * CAP, rate=FLOOD_RATE).start()
    cleanup(flood.stop)
    latencies, statuses, memory, files = [], [], [], []
    while not flood.done.is_set():
        started = time.monotonic()
        answer = requests.get(stack.base_url + "/sum?numbers=1,2", timeout=10,
                              headers={"Connection": "close"})  # fmt: skip
        latencies.append(time.monotonic() - started)
        statuses.append(answer.status_code)
        memory.append(rss_megabytes(gateway.pid))
        files.append(open_files(gateway.pid))
    # The last thousand are opened faster than a loaded machine's gateway accepts them:
    # the flood holds them until the gateway has accepted each and closed the oldest.
    wait_for(lambda: flood.result.closed + flood.result.refused >= 19 * CAP - OWN_FILES_SLACK,
             60, "all but the cap closed")  # fmt: skip
    idle = flood.stop()

    assert idle.opened == 20 * CAP and idle.other == [], idle.other
    assert max(files) <= files_before + CAP + OWN_FILES_SLACK, "never more than the cap"
    assert max(memory) < 100, f"gateway resident memory peaked at {max(memory):.0f} MB"
    assert len(statuses) >= 20 and set(statuses) == {200}, statuses
    assert statistics.median(latencies) < 0.05, f"p50 {statistics.median(latencies):.3f}s"

    # Connections all busy in requests: past the cap, each is answered 503 at once.
    flood = ConnectionFlood(address, 3 * CAP, FLOOD_RATE, payload=STALLED_BODY).start()
    cleanup(flood.stop)
    wait_for(lambda: flood.result.refused >= 2 * CAP - OWN_FILES_SLACK, 60,
             "the connections over the cap refused")  # fmt: skip
    busy = flood.stop()  # and its connections closed: their requests end
    assert busy.other == [], busy.other
    assert max(busy.seconds_to_refusal) < 2, "refused at once"

    # Afterwards everything is released.
    wait_for(lambda: open_files(gateway.pid) <= files_before + 5, 30,
             "the gateway's connections closed")  # fmt: skip
    assert requests.get(stack.base_url + "/sum?numbers=2,3", timeout=10).json()["result"] == 5
    assert rss_megabytes(gateway.pid) < 100


def test_slow_bodies_hold_connections_not_workers(
    amqp_uri: str, stack_factory: StackFactory, cleanup: Cleanup
) -> None:
    stack = stack_factory(amqp_uri, MAX_WORKERS="2", HTTP_TIMEOUT="3")
    stack.start_all()
    stack.wait_ready()
    url = urlsplit(stack.base_url)
    stalled = []
    for _ in range(10):  # five times the workers
        sock = socket.create_connection((url.hostname, url.port), timeout=10)
        cleanup(sock.close)
        sock.sendall(STALLED_BODY)
        stalled.append(sock)

    answer = requests.get(stack.base_url + "/sum?numbers=1,2", timeout=2)
    assert answer.json()["result"] == 3, "a worker was free all along"
    for sock in stalled:
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 408 "), head[:100]
        assert b'"request_timeout"' in head
