import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from jsonschema import Draft7Validator
from referencing import Registry  # pants: no-infer-dep (jsonschema brings it)
from referencing.jsonschema import DRAFT7  # pants: no-infer-dep

from gateway.asyncapi import asyncapi_document, main
from gateway.openapi import openapi_document
from runtime.config import Settings

# AsyncAPI's own schema of the specification (3rdparty/asyncapi/README.md says whence).
SPECIFICATION = Draft7Validator(json.loads(Path("3rdparty/asyncapi/3.0.0.json").read_text()))
SETTINGS = {
    "defaults": Settings(),
    "quorum-cluster": Settings(
        amqp_uri="amqp://app:secret@rabbit-1:5672/stack;amqp://app:secret@rabbit-2:5672/stack",
        queue_type="quorum",
        max_numbers=1,
        rpc_timeout=2.5,
    ),
    "tls": Settings(
        amqp_uri="amqps://rabbit.example:5671/", amqp_cert_file="c.pem", amqp_key_file="k.pem"
    ),
}
DOCUMENTS = {name: asyncapi_document(settings) for name, settings in SETTINGS.items()}
EACH = pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())


def specification_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in SPECIFICATION.iter_errors(document)
    ]


@EACH
def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    assert specification_errors(document) == []


def _message(document: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = document["components"]["messages"]["calc.sum"]
    return message


BREAKAGES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "no info": lambda d: d.pop("info"),
    "2.x's publish": lambda d: d["operations"]["call.calc.sum"].update(action="publish"),
    "a queue with an exchange": lambda d: d["channels"]["rpc-calc"]["bindings"]["amqp"].update(
        exchange={"name": "nameko-rpc"}
    ),
    "a delivery mode 3": lambda d: d["operations"]["call.calc.sum"]["bindings"]["amqp"].update(
        deliveryMode=3
    ),
    "an example field AsyncAPI lacks": lambda d: _message(d)["examples"][0].update(properties={}),
    "a server without protocol": lambda d: d["servers"]["broker"].pop("protocol"),
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_a_document_that_breaks_the_specification_fails(breakage: Callable[..., Any]) -> None:
    document = copy.deepcopy(DOCUMENTS["defaults"])
    breakage(document)
    assert specification_errors(document)


def references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    """What `pointer` (``#/...``) points at, following references on the way."""
    assert pointer.startswith("#/"), pointer
    found: Any = document
    for part in pointer[2:].split("/"):
        found = found[part.replace("~1", "/").replace("~0", "~")]
        while isinstance(found, dict) and "$ref" in found:
            found = resolve(document, found["$ref"])
    return found


@EACH
def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = list(references(document))
    assert len(found) > 50
    for pointer in found:
        resolve(document, pointer)


def misfits(document: dict[str, Any], pointer: str, value: Any) -> list[str]:
    """Where `value` does not fit the schema at `pointer` in `document` (whose references
    it follows)."""
    registry = Registry().with_resource("urn:doc", DRAFT7.create_resource(document))
    validator = Draft7Validator({"$ref": "urn:doc" + pointer}, registry=registry)
    return [f"{pointer}: {e.message[:200]}" for e in validator.iter_errors(value)]


def refused(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """("payload", call message, example name) of each call example answered with an error:
    sent to show that error, its payload may lie outside the call's schema."""
    found = set()
    for operation in document["operations"].values():
        if "reply" not in operation:
            continue
        call = resolve(document, operation["messages"][0]["$ref"])
        for reply in operation["reply"]["messages"]:
            for example in resolve(document, reply["$ref"]).get("examples", []):
                if example["payload"]["error"] is not None:
                    found.add(("payload", call["name"], example["name"]))
    return found


@EACH
def test_every_example_fits_its_schema(document: dict[str, Any]) -> None:
    checked, wrong, exempt = 0, [], refused(document)
    assert len(exempt) >= 3
    for key, message in document["components"]["messages"].items():
        for example in message.get("examples", []):
            for part in ("payload", "headers"):
                if part in example and (part, key, example["name"]) not in exempt:
                    pointer = f"#/components/messages/{key}/{part}"
                    wrong += misfits(document, pointer, example[part])
                    checked += 1
    for key, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            wrong += misfits(document, f"#/components/schemas/{key}", example)
            checked += 1
    assert checked > 20 and wrong == []


def example_names(document: dict[str, Any], messages: list[dict[str, str]]) -> list[str]:
    return [e["name"] for m in messages for e in resolve(document, m["$ref"]).get("examples", [])]


@EACH
def test_each_call_example_has_one_reply_example_of_its_name(document: dict[str, Any]) -> None:
    calls = [op for op in document["operations"].values() if "reply" in op]
    assert len(calls) == 12  # 6 methods, each called and served
    for operation in calls:
        asked = example_names(document, operation["messages"])
        answered = example_names(document, operation["reply"]["messages"])
        assert asked and sorted(asked) == sorted(answered), operation["title"]


def test_the_data_both_documents_show_has_one_schema() -> None:
    openapi = openapi_document(Settings())["components"]["schemas"]
    messages = DOCUMENTS["defaults"]["components"]["messages"]
    assert messages["log.recent.result"]["payload"]["properties"]["result"]["items"] == (
        openapi["LogEntry"]
    )
    assert messages["calc.sum.result"]["payload"]["properties"]["result"] == (
        openapi["SumResult"]["properties"]["result"]
    )
    rpc_numbers = messages["calc.sum"]["payload"]["properties"]["kwargs"]["properties"]["numbers"]
    http_numbers = openapi["SumRequest"]["properties"]["numbers"]
    # calc sums an empty list; the gateway refuses one before calling it.
    assert {**rpc_numbers, "minItems": 1} == http_numbers


def test_the_document_follows_the_settings() -> None:
    document = DOCUMENTS["quorum-cluster"]
    assert {s["host"] for s in document["servers"].values()} == {"rabbit-1:5672", "rabbit-2:5672"}
    assert all(s["pathname"] == "/stack" for s in document["servers"].values())
    # On a cluster an RPC queue is a transient classic one, an event queue a quorum one.
    queue = document["channels"]["rpc-calc"]["bindings"]["amqp"]
    assert queue["queue"]["vhost"] == "stack"
    assert (queue["queue"]["durable"], queue["x-arguments"]) == (False, {})
    events = document["channels"]["evt-gateway-sum_computed--log.record_sum"]["bindings"]["amqp"]
    assert events["queue"]["durable"] is True
    assert events["x-arguments"]["x-queue-type"] == "quorum"
    assert document["operations"]["call.calc.sum"]["bindings"]["amqp"]["expiration"] == 2500
    sums = document["components"]["messages"]["calc.sum"]["examples"]
    assert all(len(e["payload"]["kwargs"]["numbers"]) <= 1 for e in sums)
    assert "secret" not in json.dumps(document)
    tls = DOCUMENTS["tls"]["servers"]["broker"]
    assert (tls["protocol"], tls["host"]) == ("amqps", "rabbit.example:5671")
    assert tls["security"] == [{"$ref": "#/components/securitySchemes/certificate"}]


def test_the_command_writes_the_document_of_the_environments_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMQP_URI", "amqp://app:secret@broker.internal:5672/")
    monkeypatch.setattr(sys, "argv", ["asyncapi", str(tmp_path / "asyncapi.json")])
    main()
    written = json.loads((tmp_path / "asyncapi.json").read_text())
    assert written["servers"]["broker"]["host"] == "broker.internal:5672"
    assert specification_errors(written) == []
