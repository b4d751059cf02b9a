"""An AsyncAPI 3.0 document of what this messaging layer does on the wire, made from the
contract's `RpcMethod`s and `EventRoute`s and the queue specs the services declare, so that
it names the queues, exchanges, routing keys and queue arguments the code uses.

AsyncAPI 3.0 rather than 2.6: a call and its reply are one operation there (``reply``,
addressed by the call's ``reply_to``), where 2.6 has no request/reply at all; and channels
(an exchange with a routing key, or a queue) stand apart from what each side does on them
(``send``, ``receive``), so a call is described both as a caller sends it and as the
service takes it from its queue. RPC: `messaging.asyncapi_rpc`.
"""

from __future__ import annotations

from typing import Any

from amqp_client.messages import PERSISTENT
from amqp_client.queues import QueueSpec
from messaging.queues import EventRoute, handler_of
from messaging.wire import (
    ENCODING,
    EVENT_PROPERTIES,
    EXAMPLE_HEADERS,
    JSON,
    NAMEKO_HEADERS,
    SECURITY_SCHEMES,
    UNEXPECTED_ERROR,
    Schema,
    servers,
    vhost,
)
from runtime.config import Settings

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING = "0.3.0"

_DEAD_LETTER_HEADERS = {
    "type": "object",
    "description": "RabbitMQ's account of why, added as it dead-letters a message.",
    "properties": {
        "x-death": {"type": "array", "items": {"type": "object"}},
        "x-first-death-queue": {"type": "string"},
        "x-first-death-exchange": {"type": "string"},
        "x-first-death-reason": {
            "type": "string",
            "enum": ["rejected", "delivery_limit", "expired"],
        },
    },
}


def ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(path)}


def with_example(schema: Schema, value: Any) -> Schema:
    """`schema` with an example: AsyncAPI's message examples show headers and payload only,
    so what else a message carries (its AMQP properties) shows its example in its schema."""
    return {**schema, "examples": [value]}


def amqp_binding(**fields: Any) -> dict[str, Any]:
    return {"amqp": {**fields, "bindingVersion": AMQP_BINDING}}


class AsyncApiParts:
    """A document's channels, operations and components, added one service's methods or
    one event at a time, for a broker reached with `settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.vhost = vhost(settings)
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self.schemas: dict[str, Schema] = {
            "NamekoHeaders": NAMEKO_HEADERS,
            "UnexpectedError": UNEXPECTED_ERROR,
        }

    def routing_key(self, exchange: str) -> dict[str, Any]:
        """The bindings of a channel that is a routing key on the topic `exchange`."""
        # As `QueueSpec.declare` and the RPC client declare every exchange.
        topic = {"name": exchange, "type": "topic", "durable": True, "autoDelete": False}
        return amqp_binding(**{"is": "routingKey", "exchange": {**topic, "vhost": self.vhost}})

    def queue(self, spec: QueueSpec, title: str, messages: dict[str, Any]) -> str:
        """Add a channel for the queue `spec`; its name."""
        queue = {
            "name": spec.name,
            "durable": spec.durable,
            "exclusive": False,
            "autoDelete": False,
        }
        bound = {"exchange": spec.exchange, "routingKey": spec.routing_key}
        self.channels[spec.name] = {
            "address": spec.name,
            "title": title,
            "messages": messages,
            "bindings": amqp_binding(
                **{"is": "queue", "queue": {**queue, "vhost": self.vhost}},
                **{"x-arguments": dict(spec.arguments), "x-bound-to": bound},
            ),
        }
        return spec.name

    def message(self, key: str, message: dict[str, Any]) -> dict[str, str]:
        """Add a message to the components; a reference to it."""
        self.messages[key] = {"name": key, "contentType": JSON, **message}
        return ref("components", "messages", key)

    def add_event(
        self, route: EventRoute, schema_name: str, schema: Schema, example: tuple[str, Any]
    ) -> None:
        """`route`'s event, whose payload is `schema`, its exchange, its handlers' queues;
        `example` is an event's message id and payload."""
        message_id, example_payload = example
        key = f"{route.source}.{route.event_type}"
        self.schemas[schema_name] = schema
        self.schemas["EventProperties"] = with_example(
            EVENT_PROPERTIES,
            {
                "content_type": JSON,
                "content_encoding": ENCODING,
                "delivery_mode": PERSISTENT,
                "message_id": message_id,
            },
        )
        message = self.message(
            key,
            {
                "title": f"A {route.event_type} event",
                "headers": ref("components", "schemas", "NamekoHeaders"),
                "payload": ref("components", "schemas", schema_name),
                "x-amqp-properties": ref("components", "schemas", "EventProperties"),
                "examples": [
                    {
                        "name": "example",
                        "headers": EXAMPLE_HEADERS,
                        "payload": example_payload,
                    }
                ],
            },
        )
        channel = f"{route.exchange}.{route.event_type}"
        self.channels[channel] = {
            "address": route.event_type,
            "title": f"{key} events",
            "messages": {"event": message},
            "bindings": self.routing_key(route.exchange),
        }
        self.operations[f"publish.{key}"] = {
            "action": "send",
            "channel": ref("channels", channel),
            "title": f"{route.source} publishes {route.event_type}",
            "summary": (
                "Persistent and mandatory, on a channel in confirm mode: the publisher"
                " declares the handlers' queues first, so an event sent before its handler"
                " ever started is kept, and counts an event sent once the broker confirms it."
            ),
            "messages": [ref("channels", channel, "messages", "event")],
            "bindings": amqp_binding(deliveryMode=PERSISTENT, mandatory=True),
            "tags": [{"name": route.source}],
        }
        for spec in route.queue_specs(self.settings):
            self._add_handler(spec, key, message)

    def _add_handler(self, spec: QueueSpec, key: str, message: dict[str, str]) -> None:
        handler = handler_of(spec.name)
        queue = self.queue(spec, f"{handler}'s queue", {"event": message})
        dead_letters = spec.dead_letter_spec()
        summary = "Acked once handled; a process that dies leaves its events to be redelivered."
        if dead_letters is not None:
            self._add_dead_letters(dead_letters)
            summary += (
                f" What the handler cannot process goes to {dead_letters.name}, as does,"
                " on quorum queues, an event delivered DELIVERY_LIMIT times."
            )
        self.operations[f"handle.{handler}"] = {
            "action": "receive",
            "channel": ref("channels", queue),
            "title": f"{handler} handles {key}",
            "summary": summary,
            "messages": [ref("channels", queue, "messages", "event")],
            "bindings": amqp_binding(ack=True),
            "tags": [{"name": handler.split(".")[0]}],
        }

    def _add_dead_letters(self, spec: QueueSpec) -> None:
        message = self.message(
            "dead-letter",
            {
                "title": "A dead letter",
                "summary": "Nothing consumes them: an operator lists and replays them.",
                "headers": _DEAD_LETTER_HEADERS,
                "payload": {"description": "The message's body, unchanged."},
            },
        )
        self.queue(spec, "Dead letters", {"dead-letter": message})

    def document(self, info: dict[str, Any]) -> dict[str, Any]:
        return {
            "asyncapi": ASYNCAPI_VERSION,
            "info": info,
            "servers": servers(self.settings),
            "defaultContentType": JSON,
            "channels": self.channels,
            "operations": self.operations,
            "components": {
                "schemas": self.schemas,
                "messages": self.messages,
                "correlationIds": {
                    "rpc": {
                        "location": "$message.header#/correlation_id",
                        "description": "The correlation_id property (x-amqp-properties).",
                    }
                },
                "securitySchemes": SECURITY_SCHEMES,
            },
        }
