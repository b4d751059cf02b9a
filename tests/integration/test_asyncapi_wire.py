"""The AsyncAPI document against the running services, over the wire. Every message is made
only from the gateway's ``/asyncapi.json`` (the exchange, the routing key, the AMQP
properties, the headers and the example's body) and sent with a plain py-amqp channel, not
the project's client; every reply must be the document's reply example of the same name.
So the document cannot say what the code does not do."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import amqp
import pytest
import requests

from calc.service import CalcService
from devstack.probes import connect
from gateway.service import GatewayService
from harness.inprocess import RunningServices, start_services
from log.service import LogService

ANSWER_WITHIN = 15.0  # seconds, for a reply equal to the document's: log stores events later


@pytest.fixture
def services(amqp_uri: str, tmp_path: Path) -> Iterator[RunningServices]:
    running = start_services([GatewayService, CalcService, LogService], amqp_uri, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def document(services: RunningServices) -> dict[str, Any]:
    services.wait_until_ready()
    answer = requests.get(services.base_url + "/asyncapi.json", timeout=10)
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


@pytest.fixture
def channel(amqp_uri: str) -> Iterator[amqp.Channel]:
    connection = connect(amqp_uri)
    yield connection.channel()
    connection.close()


def resolve(document: dict[str, Any], pointer: str) -> Any:
    found: Any = document
    for part in pointer.removeprefix("#/").split("/"):
        found = found[part]
        while isinstance(found, dict) and "$ref" in found:
            found = resolve(document, found["$ref"])
    return found


class Sender:
    """Sends what an operation of the document sends, and collects the replies."""

    def __init__(self, document: dict[str, Any], channel: amqp.Channel) -> None:
        self.document = document
        self.channel = channel
        self.replies: dict[str, Any] = {}
        self.sent = 0

    def on_reply(self, message: amqp.Message) -> None:
        self.replies[message.properties["correlation_id"]] = json.loads(message.body)

    def publish(self, operation: dict[str, Any], example: dict[str, Any], **properties: Any) -> str:
        """Publish `example` as `operation` does: its channel's exchange and routing key, its
        message's properties (their schema's example) and the example's headers and body."""
        channel = resolve(self.document, operation["channel"]["$ref"])
        exchange = channel["bindings"]["amqp"]["exchange"]["name"]
        message = resolve(self.document, operation["messages"][0]["$ref"])
        message_properties = resolve(self.document, message["x-amqp-properties"]["$ref"])
        message_properties = {**message_properties["examples"][0], **properties}
        self.sent += 1
        correlation_id = f"{example['name']}-{self.sent}"
        if "correlationId" in message:  # a call: its reply will carry the same
            message_properties["correlation_id"] = correlation_id
        self.channel.basic_publish(
            amqp.Message(
                json.dumps(example["payload"]),
                application_headers=example.get("headers", {}),
                **message_properties,
            ),
            exchange=exchange,
            routing_key=channel["address"],
            mandatory=operation["bindings"]["amqp"]["mandatory"],
        )
        return correlation_id

    def call(self, operation: dict[str, Any], example: dict[str, Any], **properties: Any) -> Any:
        """The reply to `example`, sent as `operation` sends it."""
        correlation_id = self.publish(operation, example, **properties)
        deadline = time.monotonic() + ANSWER_WITHIN
        while correlation_id not in self.replies and time.monotonic() < deadline:
            try:
                self.channel.connection.drain_events(timeout=0.5)
            except TimeoutError:
                pass
        return self.replies.pop(correlation_id, "no reply")


def documented_replies(document: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    """The reply examples of an operation, by name."""
    return {
        example["name"]: example["payload"]
        for reply in operation["reply"]["messages"]
        for example in resolve(document, reply["$ref"]).get("examples", [])
    }


def test_every_call_example_gets_its_documented_reply(
    document: dict[str, Any], channel: amqp.Channel
) -> None:
    sender = Sender(document, channel)
    channel.basic_consume(
        "amq.rabbitmq.reply-to", callback=sender.on_reply, no_ack=True
    )  # as the calls' reply_to names it: RabbitMQ's direct reply-to
    sends = [op for op in document["operations"].values() if op["action"] == "send"]
    # The events first: log.recent's example shows the stored event.
    for operation in [op for op in sends if "reply" not in op]:
        for example in resolve(document, operation["messages"][0]["$ref"])["examples"]:
            sender.publish(operation, example)
    answered = []
    for operation in [op for op in sends if "reply" in op]:
        expected = documented_replies(document, operation)
        for example in resolve(document, operation["messages"][0]["$ref"])["examples"]:
            deadline = time.monotonic() + ANSWER_WITHIN
            reply = sender.call(operation, example)
            while reply != expected[example["name"]] and time.monotonic() < deadline:
                reply = sender.call(operation, example)
            assert reply == expected[example["name"]], (operation["title"], example["name"])
            answered.append(operation["title"])
    # Each of calc's and log's six methods, some with several examples.
    assert len(set(answered)) == 6 and len(answered) >= 11, answered


def test_a_reply_queue_bound_as_nameko_callers_bind_one_gets_the_reply(
    document: dict[str, Any], channel: amqp.Channel
) -> None:
    operation = document["operations"]["call.calc.ping"]
    replies = resolve(document, operation["reply"]["channel"]["$ref"])
    exchange = replies["bindings"]["amqp"]["exchange"]["name"]
    queue, _, _ = channel.queue_declare("", exclusive=True)
    channel.queue_bind(queue, exchange, routing_key="wire-test-replies")
    sender = Sender(document, channel)
    channel.basic_consume(queue, callback=sender.on_reply, no_ack=True)
    example = resolve(document, operation["messages"][0]["$ref"])["examples"][0]
    reply = sender.call(operation, example, reply_to="wire-test-replies")
    assert reply == documented_replies(document, operation)[example["name"]]
