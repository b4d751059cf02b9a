"""The RPC part of the AsyncAPI document (`messaging.asyncapi`): Nameko's protocol as
``@rpc`` (`messaging.rpc`) speaks it.

A call is published to the RPC exchange under ``<service>.<method>`` and waits in the
service's ``rpc-<service>`` queue; its reply goes where ``reply_to`` says. Each method has
three messages, its call, its result and its error reply (Nameko's shape, the exception's
class by name), and two operations: ``call.<service>.<method>``, what a caller sends, and
``serve.<service>.<method>``, what the service takes from its queue. Examples pair by name:
a call's example is answered by the reply example of the same name.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import MethodNotFound, get_module_path

from amqp_client.messages import TRANSIENT
from messaging.asyncapi import AsyncApiParts, amqp_binding, ref, with_example
from messaging.contract import RpcExample, RpcMethod
from messaging.queues import rpc_queue_spec
from messaging.rpc import DIRECT_REPLY_TO
from messaging.wire import (
    CALL_ERRORS,
    CALL_PROPERTIES,
    ENCODING,
    EXAMPLE_HEADERS,
    JSON,
    REPLY_PROPERTIES,
    Schema,
    error_schema,
)

REPLIES = "rpc-replies"


def add_rpc_services(
    parts: AsyncApiParts, exchange: str, services: dict[str, tuple[RpcMethod, ...]]
) -> None:
    """Every service's methods, called through the RPC `exchange`, and the replies."""
    properties = {"content_type": JSON, "content_encoding": ENCODING, "delivery_mode": TRANSIENT}
    call = {"reply_to": DIRECT_REPLY_TO, "expiration": str(_deadline_ms(parts))}
    example_id = {"correlation_id": "3f2a9c4e0b1d4e6f"}
    parts.schemas["CallProperties"] = with_example(
        CALL_PROPERTIES, {**properties, **call, **example_id}
    )
    parts.schemas["ReplyProperties"] = with_example(REPLY_PROPERTIES, {**properties, **example_id})
    unknown = _reply_message(
        parts, "unknown-method", {"type": "null"}, _error(parts, MethodNotFound), []
    )
    parts.channels[REPLIES] = {
        "address": None,
        "title": "Replies",
        "description": (
            f"A reply is published to {exchange} under the call's reply_to, or, for"
            f" {DIRECT_REPLY_TO}, through RabbitMQ's direct reply-to. A routing key that"
            " names no method of a service is answered unknown-method."
        ),
        "messages": {"unknown-method": unknown},
        "bindings": parts.routing_key(exchange),
    }
    for service, methods in services.items():
        spec = rpc_queue_spec(service, exchange, parts.settings)
        calls = {f"{service}.{m.name}": _call_message(parts, service, m) for m in methods}
        queue = parts.queue(spec, f"{service}'s calls, to any of its methods", calls)
        for method in methods:
            _add_method(parts, exchange, service, method, queue)


def _add_method(
    parts: AsyncApiParts, exchange: str, service: str, method: RpcMethod, queue: str
) -> None:
    name = f"{service}.{method.name}"
    parts.channels[name] = {
        "address": name,
        "title": f"Calls to {name}",
        "messages": {"call": ref("components", "messages", name)},
        "bindings": parts.routing_key(exchange),
    }
    replies = parts.channels[REPLIES]["messages"]
    results = [e for e in method.examples if e.error is None]
    replies[f"{name}.result"] = _reply_message(
        parts, f"{name}.result", method.result, {"type": "null"}, results
    )
    errors = [e for e in method.examples if e.error is not None]
    error = {"anyOf": [_error(parts, e) for e in (*method.errors, *CALL_ERRORS)]}
    error["anyOf"].append(ref("components", "schemas", "UnexpectedError"))
    replies[f"{name}.error"] = _reply_message(
        parts, f"{name}.error", {"type": "null"}, error, errors
    )
    reply = {
        "address": {
            "location": "$message.header#/reply_to",
            "description": "The call's reply_to property (x-amqp-properties).",
        },
        "channel": ref("channels", REPLIES),
        "messages": [
            ref("channels", REPLIES, "messages", f"{name}.{r}") for r in ("result", "error")
        ],
    }
    common = {"summary": method.summary, "reply": reply, "tags": [{"name": service}]}
    parts.operations[f"call.{name}"] = {
        "action": "send",
        "channel": ref("channels", name),
        "title": f"Call {name}",
        "messages": [ref("channels", name, "messages", "call")],
        "bindings": amqp_binding(
            deliveryMode=TRANSIENT, mandatory=True, expiration=_deadline_ms(parts)
        ),
        **common,
    }
    parts.operations[f"serve.{name}"] = {
        "action": "receive",
        "channel": ref("channels", queue),
        "title": f"{service} serves {name}",
        "messages": [ref("channels", queue, "messages", name)],
        "bindings": amqp_binding(ack=True),
        **common,
    }


def _deadline_ms(parts: AsyncApiParts) -> int:
    """The deadline the project's callers give a call (``RPC_TIMEOUT``)."""
    return int(parts.settings.rpc_timeout * 1000)


def _error(parts: AsyncApiParts, error: type[Exception]) -> dict[str, str]:
    parts.schemas[get_module_path(error)] = error_schema(error)
    return ref("components", "schemas", get_module_path(error))


def _call_message(parts: AsyncApiParts, service: str, method: RpcMethod) -> dict[str, str]:
    payload = {
        "type": "object",
        "required": ["args", "kwargs"],
        "additionalProperties": False,
        "description": (
            "Nameko's call: each parameter once, by position (args) or by name (kwargs);"
            f" required: {', '.join(method.required()) or 'none'}."
        ),
        "properties": {
            "args": _positional(method.parameters),
            "kwargs": {
                "type": "object",
                "properties": method.parameters,
                "additionalProperties": False,
            },
        },
    }
    return parts.message(
        f"{service}.{method.name}",
        {
            "title": f"Call {service}.{method.name}",
            "summary": method.summary,
            "headers": ref("components", "schemas", "NamekoHeaders"),
            "payload": payload,
            "correlationId": ref("components", "correlationIds", "rpc"),
            "x-amqp-properties": ref("components", "schemas", "CallProperties"),
            "examples": [
                {
                    "name": e.name,
                    "summary": e.summary,
                    "headers": EXAMPLE_HEADERS,
                    "payload": {"args": [], "kwargs": e.kwargs},
                }
                for e in method.examples
            ],
        },
    )


def _positional(parameters: dict[str, Schema]) -> Schema:
    """The parameters as a list, in order: JSON Schema's tuple (its items may not be empty)."""
    args: Schema = {"type": "array", "maxItems": len(parameters)}
    if parameters:
        args["items"] = list(parameters.values())
    return args


def _reply_message(
    parts: AsyncApiParts, key: str, result: Schema, error: Schema, examples: list[RpcExample]
) -> dict[str, str]:
    message: dict[str, Any] = {
        "payload": {
            "type": "object",
            "required": ["result", "error"],
            "additionalProperties": False,
            "properties": {"result": result, "error": error},
        },
        "correlationId": ref("components", "correlationIds", "rpc"),
        "x-amqp-properties": ref("components", "schemas", "ReplyProperties"),
        "examples": [
            {
                "name": e.name,
                "summary": e.summary,
                "payload": e.reply(),
            }
            for e in examples
        ],
    }
    return parts.message(key, message)
