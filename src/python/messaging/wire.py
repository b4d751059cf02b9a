"""What every message of this messaging layer carries besides its body, as JSON Schemas for
the AsyncAPI document (`messaging.asyncapi`): Nameko's context headers, the AMQP properties
of a call, a reply and an event, the error a reply reports, and the brokers' addresses.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from nameko.constants import CALL_ID_STACK_CONTEXT_KEY, HEADER_PREFIX
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound, get_module_path

from amqp_client.connect import node_uris
from amqp_client.messages import PERSISTENT, TRANSIENT
from runtime.config import Settings
from runtime.request_id import API_KEY_NAME_KEY, REQUEST_ID_KEY, REQUEST_ID_PATTERN
from runtime.tracing import TRACE_KEYS

Schema = dict[str, Any]
JSON = "application/json"
ENCODING = "utf-8"
AMQP_VERSION = "0.9.1"

_TRACEPARENT = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
_TRACE_HEADERS = {
    "traceparent": {
        "type": "string",
        "pattern": _TRACEPARENT,
        "description": "W3C trace context of the sender's span, when tracing is on.",
    },
    "tracestate": {"type": "string", "description": "W3C trace state, passed along."},
}

NAMEKO_HEADERS: Schema = {
    "type": "object",
    "description": (
        f"Nameko's context data, each key as the application header `{HEADER_PREFIX}.<key>`:"
        " every Nameko service passes on what it received, adding its own call to the stack."
        " None is required."
    ),
    "properties": {
        f"{HEADER_PREFIX}.{key}": schema
        for key, schema in {
            CALL_ID_STACK_CONTEXT_KEY: {
                "type": "array",
                "items": {"type": "string"},
                "description": "Calls that led here, oldest first: `<service>.<method>.<id>`.",
            },
            REQUEST_ID_KEY: {
                "type": "string",
                "pattern": REQUEST_ID_PATTERN,
                "description": "The HTTP request's X-Request-ID, in every log line it causes.",
            },
            API_KEY_NAME_KEY: {
                "type": "string",
                "description": "The name (never the key) of the HTTP request's API key.",
            },
            **{key: _TRACE_HEADERS[key] for key in TRACE_KEYS},
        }.items()
    },
}


EXAMPLE_HEADERS = {
    f"{HEADER_PREFIX}.{CALL_ID_STACK_CONTEXT_KEY}": ["gateway.sum_from_query.5d2c0b7e"],
    f"{HEADER_PREFIX}.{REQUEST_ID_KEY}": "example-request-1",
}
"""The headers the documents' examples show: a call made for an HTTP request."""


def _properties(description: str, **fields: Schema) -> Schema:
    common = {
        "content_type": {
            "type": "string",
            "enum": [JSON],
            "description": "JSON only: a call in another is answered MalformedRequest.",
        },
        "content_encoding": {"type": "string", "enum": [ENCODING]},
    }
    return {"type": "object", "description": description, "properties": {**common, **fields}}


_CORRELATION_ID = {"type": "string", "description": "A reply carries its call's."}
CALL_PROPERTIES = _properties(
    "AMQP properties of a call. Without reply_to the call runs and nobody is answered.",
    reply_to={
        "type": "string",
        "description": (
            "Where the reply goes: a routing key on the RPC exchange, under which the caller"
            " bound a queue of its own (as Nameko's callers do), or amq.rabbitmq.reply-to"
            " (RabbitMQ's direct reply-to, consumed without acks on the calling channel)."
        ),
    },
    correlation_id=_CORRELATION_ID,
    expiration={
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "The caller's deadline in ms: a call nobody took in time expires.",
    },
    delivery_mode={"type": "integer", "enum": [TRANSIENT, PERSISTENT]},
)
REPLY_PROPERTIES = _properties(
    "AMQP properties of a reply.",
    correlation_id=_CORRELATION_ID,
    delivery_mode={"type": "integer", "enum": [TRANSIENT]},
)
EVENT_PROPERTIES = _properties(
    "AMQP properties of an event.",
    message_id={"type": "string", "description": "The event's id."},
    delivery_mode={"type": "integer", "enum": [PERSISTENT]},
)

# What Nameko's entrypoint itself answers, whatever the method.
_NAMEKO_ERRORS = {
    IncorrectSignature: "The arguments do not fit the method's parameters.",
    MalformedRequest: (
        "The body is not a JSON object with args and kwargs, or not application/json."
    ),
    MethodNotFound: "The routing key names no method of the service.",
}
CALL_ERRORS = (IncorrectSignature, MalformedRequest)
"""What any call may be answered, besides its method's errors."""

UNEXPECTED_ERROR: Schema = {
    "type": "object",
    "required": ["exc_type", "exc_path", "exc_args", "value"],
    "description": (
        "Nameko's error reply: the exception's class (exc_type, and exc_path with its"
        " module), its arguments and its text. Any class the method does not declare is a"
        " bug; a Nameko caller raises it as RemoteError."
    ),
    "properties": {
        "exc_type": {"type": "string"},
        "exc_path": {"type": "string"},
        "exc_args": {"type": "array"},
        "value": {"type": "string"},
    },
}


def error_schema(error: type[Exception]) -> Schema:
    """Nameko's error reply for `error`; a Nameko caller that knows the class raises it."""
    properties = dict(UNEXPECTED_ERROR["properties"])
    properties["exc_type"] = {"type": "string", "enum": [error.__name__]}
    properties["exc_path"] = {"type": "string", "enum": [get_module_path(error)]}
    description = _NAMEKO_ERRORS.get(error) or inspect.getdoc(error) or error.__name__
    return {**UNEXPECTED_ERROR, "description": description, "properties": properties}


def servers(settings: Settings) -> dict[str, Any]:
    """The broker's nodes, as the running settings reach them (never the password)."""
    nodes = [urlsplit(uri) for uri in node_uris(settings.amqp_uri)]
    login = "certificate" if settings.amqp_cert_file else "password"
    virtual_host = vhost(settings)
    found = {}
    for index, node in enumerate(nodes, start=1):
        server: dict[str, Any] = {
            "host": f"{node.hostname}:{node.port or (5671 if node.scheme == 'amqps' else 5672)}",
            "protocol": node.scheme,
            "protocolVersion": AMQP_VERSION,
            "security": [{"$ref": f"#/components/securitySchemes/{login}"}],
        }
        if virtual_host != "/":
            server["pathname"] = "/" + quote(virtual_host, safe="")
        found["broker" if len(nodes) == 1 else f"broker-{index}"] = server
    return found


SECURITY_SCHEMES = {
    "password": {"type": "userPassword", "description": "The AMQP URI's user and password."},
    "certificate": {"type": "X509", "description": "AMQP_CERT_FILE's client certificate."},
}


def vhost(settings: Settings) -> str:
    """The virtual host of the broker URI (its first node's, as every node's is the same)."""
    path = urlsplit(node_uris(settings.amqp_uri)[0]).path
    return unquote(path[1:]) if len(path) > 1 else "/"
