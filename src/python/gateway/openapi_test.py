import sys
from typing import Any

import gateway.service  # noqa: F401  # every module the gateway runs, with the failures they define
from gateway.openapi import openapi_document
from runtime.config import Settings
from runtime.errors import ServiceError
from web.errors import ErrorKind, kind_of

# The gateway's own packages (not Nameko's, not the standard library's).
PACKAGES = {"amqp_client", "runtime", "messaging", "web", "domain", "launch", "gateway"}
GUARDED = Settings(api_keys_file="api-keys", rate_limit=1.0)


def documented(document: dict[str, Any]) -> dict[str, set[tuple[int, str]]]:
    """The (status, code) of each error every operation documents, by "METHOD /path"."""
    found: dict[str, set[tuple[int, str]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            codes = found.setdefault(f"{method.upper()} {path}", set())
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                for body in schema.get("oneOf", [schema]):
                    if error := body.get("properties", {}).get("error"):
                        codes |= {(int(status), c) for c in error["properties"]["code"]["enum"]}
    return found


def subclasses(cls: type[ServiceError]) -> set[type[ServiceError]]:
    direct = set(cls.__subclasses__())
    return direct.union(*(subclasses(sub) for sub in direct))


def defined() -> set[tuple[int, str]]:
    """Every failure the gateway's modules define: their kinds, and their service errors
    (less the bases, which name no code of their own)."""
    modules = [m for name, m in list(sys.modules.items()) if name.split(".")[0] in PACKAGES]
    kinds = {v for module in modules for v in vars(module).values() if isinstance(v, ErrorKind)}
    errors = {kind_of(cls) for cls in subclasses(ServiceError) if cls.code != ServiceError.code}
    return {(kind.http_status, kind.code) for kind in kinds | errors}


def test_every_failure_the_gateway_defines_is_in_its_document() -> None:
    everywhere = set().union(*documented(openapi_document(GUARDED)).values())
    assert defined() - everywhere == set()


def test_a_sum_too_long_to_return_is_documented_for_both_sum_operations() -> None:
    codes = documented(openapi_document(Settings()))
    assert (400, "out_of_range") in codes["GET /sum"] & codes["POST /sum"]


def test_the_guard_codes_are_documented_where_and_when_the_guard_answers() -> None:
    guard = {(401, "unauthorized"), (429, "too_many_requests")}
    open_api = documented(openapi_document(Settings()))
    guarded = documented(openapi_document(GUARDED))
    assert all(not guard & codes for codes in open_api.values())
    assert {op for op, codes in guarded.items() if guard <= codes} == {
        "GET /sum",
        "POST /sum",
        "GET /logs",
    }
