"""OpenAPI 3.0 pieces for what this web layer answers: JSON responses, each with its
``X-Request-ID``, and an operation's error responses made from the kinds of failure it
answers (`web.errors`), so that the document names every code, and only those."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Iterable

from web.errors import Failure, kind_of

JSON = "application/json"

_REQUEST_ID = {
    "X-Request-ID": {
        "description": "The client's request id if it was safe to echo, else a new one.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }
}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _REQUEST_ID,
        "content": {JSON: {"schema": schema}},
    }


def error_detail(codes: Iterable[str]) -> dict[str, Any]:
    """``{"code": ..., "message": ...}``, its code one of `codes`."""
    return {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": sorted(set(codes))},
            "message": {"type": "string"},
        },
    }


def error_responses(
    *failures: Iterable[Failure], alternatives: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An operation's error responses, one per status, each listing its codes.

    `alternatives` gives a status's other body, where the operation answers it with
    something besides an error (a readiness report, say).
    """
    codes: dict[int, set[str]] = {}
    for group in failures:
        for kind in map(kind_of, group):
            codes.setdefault(kind.http_status, set()).add(kind.code)
    responses = {}
    for status in sorted(codes):
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["error"],
            "properties": {"error": error_detail(codes[status])},
        }
        alternative = (alternatives or {}).get(status)
        if alternative is not None:
            schema = {"oneOf": [alternative, schema]}
        responses[str(status)] = json_response(schema, HTTPStatus(status).phrase)
    return responses
