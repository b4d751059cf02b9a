"""The messaging contract page's tables, made from the AsyncAPI document (``messaging.md``'s
``<!-- asyncapi -->``): the brokers, each service's methods with their queue, routing key,
parameters, result, errors and examples, the events and their handlers, the headers and
properties every message carries, the errors a reply can name, then the document itself."""

from __future__ import annotations

import json
from typing import Any

from schema_text import fields, indent, schema_type, table

Document = dict[str, Any]


def resolve(document: Document, value: Any) -> Any:
    """`value`, or what it references (``{"$ref": "#/..."}``), followed to the end."""
    while isinstance(value, dict) and "$ref" in value:
        found: Any = document
        for part in value["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        value = found
    return value


def render_asyncapi(document: Document) -> str:
    parts = [
        _brokers(document),
        _calls(document),
        _events(document),
        _headers(document),
        _errors(document),
        '??? note "The whole document: `GET /asyncapi.json` with the default settings"\n\n'
        + indent("```json\n" + json.dumps(document, indent=2) + "\n```"),
    ]
    return "\n\n".join(parts)


def _brokers(document: Document) -> str:
    rows = [
        (f"`{name}`", f"`{s['host']}`", s["protocol"], _logins(document, s))
        for name, s in document["servers"].items()
    ]
    return "## Brokers\n\n" + table(("Server", "Host", "Protocol", "Login"), rows)


def _logins(document: Document, server: dict[str, Any]) -> str:
    return ", ".join(resolve(document, s)["description"] for s in server.get("security", []))


def _operations(document: Document, action: str) -> list[dict[str, Any]]:
    return [op for op in document["operations"].values() if op["action"] == action]


def _calls(document: Document) -> str:
    out = ["## Calls"]
    served = [op for op in _operations(document, "receive") if "reply" in op]
    for service in dict.fromkeys(op["tags"][0]["name"] for op in served):
        operations = [op for op in served if op["tags"][0]["name"] == service]
        queue = resolve(document, operations[0]["channel"])
        binding = queue["bindings"]["amqp"]
        bound = binding["x-bound-to"]
        out.append(f"### {service}")
        out.append(
            f"{service} takes its calls from the durable queue `{queue['address']}`, bound to"
            f" `{bound['exchange']}` under `{bound['routingKey']}`"
            f" (arguments: `{json.dumps(binding['x-arguments'])}`)."
        )
        rows = [_method_row(document, op) for op in operations]
        out.append(table(("Routing key", "Parameters", "Result", "Errors"), rows))
        out.append(table(("Example", "Call's kwargs", "Reply"), _examples(document, operations)))
    return "\n\n".join(out)


def _method_row(document: Document, operation: dict[str, Any]) -> tuple[str, ...]:
    call = resolve(document, operation["messages"][0])
    parameters = call["payload"]["properties"]["kwargs"]["properties"]
    result, error = (resolve(document, m) for m in operation["reply"]["messages"])
    described = "; ".join(f"`{name}`: {schema_type(s)}" for name, s in parameters.items())
    errors = [resolve(document, e) for e in error["payload"]["properties"]["error"]["anyOf"]]
    named = [
        e["properties"]["exc_type"]["enum"][0]
        for e in errors
        if "enum" in e["properties"]["exc_type"]
    ]
    return (
        f"`{call['name']}`",
        described or "none",
        schema_type(result["payload"]["properties"]["result"]),
        ", ".join(f"`{n}`" for n in named) + ", or any other (a bug)",
    )


def _examples(document: Document, operations: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for operation in operations:
        call = resolve(document, operation["messages"][0])
        replies = {
            e["name"]: e["payload"]
            for m in operation["reply"]["messages"]
            for e in resolve(document, m).get("examples", [])
        }
        for example in call["examples"]:
            reply = replies[example["name"]]
            answer = reply["result"] if reply["error"] is None else reply["error"]["exc_type"]
            rows.append(
                (
                    f"`{call['name']}` {example['summary']}",
                    f"`{json.dumps(example['payload']['kwargs'])}`",
                    f"`{json.dumps(answer)}`" if reply["error"] is None else f"error `{answer}`",
                )
            )
    return rows


def _events(document: Document) -> str:
    out = ["## Events"]
    for publish in _operations(document, "send"):
        if "reply" in publish:
            continue
        channel = resolve(document, publish["channel"])
        message = resolve(document, publish["messages"][0])
        exchange = channel["bindings"]["amqp"]["exchange"]["name"]
        out.append(f"### `{message['name']}`")
        out.append(f"Published to `{exchange}` under `{channel['address']}`. {publish['summary']}")
        out.append(
            table(("Field", "Type", "Required"), fields(resolve(document, message["payload"])))
        )
        out.append(
            table(("Handler", "Queue", "Arguments", "Handling"), _handlers(document, message))
        )
    return "\n\n".join(out)


def _handlers(document: Document, message: dict[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for operation in _operations(document, "receive"):
        if resolve(document, operation["messages"][0]) is not message:
            continue
        queue = resolve(document, operation["channel"])
        arguments = json.dumps(queue["bindings"]["amqp"]["x-arguments"])
        rows.append(
            (
                f"`{operation['title'].split()[0]}`",
                f"`{queue['address']}`",
                f"`{arguments}`",
                operation["summary"],
            )
        )
    return rows


def _headers(document: Document) -> str:
    schemas = document["components"]["schemas"]
    headers = [
        (f"`{name}`", schema_type(s), s.get("description", ""))
        for name, s in schemas["NamekoHeaders"]["properties"].items()
    ]
    kinds = {"CallProperties": "call", "ReplyProperties": "reply", "EventProperties": "event"}
    # Each property's schema on each kind of message that carries it.
    carried: dict[str, dict[str, dict[str, Any]]] = {}
    for schema_name, kind in kinds.items():
        for name, schema in schemas[schema_name]["properties"].items():
            carried.setdefault(name, {})[kind] = schema
    rows = [(f"`{name}`", *_property(on)) for name, on in carried.items()]
    return "\n\n".join(
        [
            "## Headers and properties",
            schemas["NamekoHeaders"]["description"],
            table(("Header", "Type", "Meaning"), headers),
            table(("AMQP property", "Type", "Meaning"), rows),
        ]
    )


def _property(on: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """A property's type on each kind of message, and its meaning."""
    types = {kind: schema_type(schema) for kind, schema in on.items()}
    if len(set(types.values())) == 1:
        typed = f"{next(iter(types.values()))} ({', '.join(types)})"
    else:
        typed = "; ".join(f"{kind}: {kind_type}" for kind, kind_type in types.items())
    meaning = " ".join(dict.fromkeys(s.get("description", "") for s in on.values()))
    return typed, meaning


def _errors(document: Document) -> str:
    rows = [
        (f"`{s['properties']['exc_path']['enum'][0]}`", s["description"])
        for s in document["components"]["schemas"].values()
        if "enum" in s.get("properties", {}).get("exc_path", {})
    ]
    described = document["components"]["schemas"]["UnexpectedError"]["description"]
    return "## Errors\n\n" + described + "\n\n" + table(("exc_path", "When"), rows)
