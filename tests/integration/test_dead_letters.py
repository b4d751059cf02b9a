"""Dead letters instead of endless redelivery: a poison event, and an event whose store
write keeps failing, both end in ``dead-letters`` with their reason while other events
keep flowing; replayed once the store is fixed, the event is stored once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import amqp
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from calc.service import CalcService
from devstack.probes import connect
from devstack.waiting import wait_for
from gateway.service import GatewayService
from harness.cleanup import Cleanup
from harness.inprocess import start_services
from log.service import LogService
from log.store import EntryStore, EntryStoreProvider, LogEntry

failing: set[str] = set()  # request ids whose store writes fail


class FlakyStore(EntryStore):
    def append(self, entry: LogEntry) -> bool:
        if entry.request_id in failing:
            raise OSError("the store is unavailable (the test's fault)")
        return super().append(entry)


class FlakyStoreProvider(EntryStoreProvider):
    store_class = FlakyStore


class FlakyLog(LogService):
    store = FlakyStoreProvider()


def publish_raw(amqp_uri: str, body: bytes, message_id: str) -> None:
    """An event straight onto the events exchange, as any publisher could send it."""
    connection = connect(amqp_uri)
    try:
        message = amqp.Message(body, content_type="application/json", message_id=message_id)
        connection.channel().basic_publish(message, "gateway.events", "sum_computed")
    finally:
        connection.close()


def test_poison_and_failing_events_end_in_dead_letters_and_a_fixed_one_replays_once(
    amqp_uri: str, tmp_path: Path, cleanup: Cleanup
) -> None:
    services = start_services(
        [GatewayService, CalcService, FlakyLog], amqp_uri, tmp_path,
        queue_type="quorum", delivery_limit=2,
    )  # fmt: skip
    cleanup(services.stop)
    cleanup(failing.clear)
    services.wait_until_ready()
    failing.add("doomed")

    def get_sum(request_id: str) -> None:
        answer = requests.get(services.base_url + "/sum?numbers=1,2",
                              headers={"X-Request-ID": request_id}, timeout=10)  # fmt: skip
        assert answer.status_code == 200, answer.text

    publish_raw(amqp_uri, b'{"not": "an event"', "poison-1")
    get_sum("doomed")  # confirmed: the event is the broker's, whatever log does with it
    for n in range(5):
        get_sum(f"fine-{n}")

    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10) as proxy:

        def recorded() -> list[str]:
            return [entry["request_id"] for entry in proxy.log.recent(limit=100)]

        def letters() -> dict[str, dict[str, Any]]:
            found = proxy.log.dead_letters(limit=10)
            return {("doomed" if "doomed" in d["body"] else d["message_id"]): d for d in found}

        wait_for(lambda: {f"fine-{n}" for n in range(5)} <= set(recorded()), 20,
                 "the other events stored meanwhile")  # fmt: skip
        wait_for(lambda: letters().keys() == {"poison-1", "doomed"}, 30,
                 "both events in dead-letters")  # fmt: skip
        dead = letters()
        queue = "evt-gateway-sum_computed--log.record_sum"
        assert (dead["poison-1"]["reason"], dead["poison-1"]["queue"]) == ("rejected", queue)
        assert (dead["doomed"]["reason"], dead["doomed"]["queue"]) == ("delivery_limit", queue)
        assert "doomed" not in recorded()

        failing.clear()  # the store is fixed
        replayed = proxy.log.replay_dead_letter(dead["doomed"]["message_id"])
        assert replayed["reason"] == "delivery_limit"
        wait_for(lambda: "doomed" in recorded(), 20, "the replayed event stored")
        assert recorded().count("doomed") == 1
        assert letters().keys() == {"poison-1"}
        assert proxy.log.replay_dead_letter("no-such-id") is None
