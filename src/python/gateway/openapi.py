"""The gateway's API as an OpenAPI 3.0 document, served at ``GET /openapi.json``.

Generated from the running settings, so its limits are the ones the gateway enforces,
and from the kinds of failure each operation's code raises, so its error codes are the
ones it answers. The fuzz tests drive the API from this document, which keeps it honest.
"""

from __future__ import annotations

from typing import Any, Callable

from domain.errors import RECENT_ERRORS, SUM_ERRORS
from domain.limits import MAX_LOG_ENTRIES
from domain.schemas import LOG_ENTRY, SUM, numbers, sum_examples
from gateway.inputs import BODY_ERRORS, LIMIT_ERRORS, QUERY_ERRORS
from messaging.errors import CALL_ERRORS, PUBLISH_ERRORS
from runtime.config import Settings
from web.body import JSON_BODY_ERRORS
from web.errors import ANY_REQUEST, kind_of
from web.guard import guard_errors
from web.openapi import JSON, error_detail, error_responses, json_response
from web.parser import MAX_REQUEST_LINE


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _sum_examples(settings: Settings, value: Callable[[list[Any]], Any]) -> dict[str, Any]:
    """The contract's sums (`domain.schemas.SUM_EXAMPLES`) as OpenAPI examples of a
    request's `value` of the numbers: the fuzz tests send each, with every check."""
    return {
        example.name: {"summary": example.summary, "value": value(example.numbers)}
        for example in sum_examples(settings.max_numbers)
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a gateway running with `settings`."""
    # The gateway refuses an empty list (missing_numbers) before calling calc.
    some_numbers = numbers(settings.max_numbers, min_items=1)
    sum_result = json_response(_ref("SumResult"), "The exact sum.")
    api = (ANY_REQUEST, guard_errors(settings))
    sums = (SUM_ERRORS, CALL_ERRORS, PUBLISH_ERRORS)  # calc.sum, then the sum_computed event
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Sum gateway",
            "version": "1.0.0",
            "description": "Exact sums through the calc service, each recorded by log.",
        },
        "paths": {
            "/sum": {
                "get": {
                    "operationId": "sumFromQuery",
                    "parameters": [
                        {
                            "name": "numbers",
                            "in": "query",
                            "required": True,
                            "description": (
                                "Comma-separated decimal numbers, e.g. 1,2.5,-3. The request"
                                f" line is limited to {MAX_REQUEST_LINE} bytes: POST long lists."
                            ),
                            "style": "form",
                            "explode": False,
                            "schema": some_numbers,
                            "examples": _sum_examples(settings, lambda numbers: numbers),
                        }
                    ],
                    "responses": {
                        "200": sum_result,
                        **error_responses(*api, QUERY_ERRORS, *sums),
                    },
                },
                "post": {
                    "operationId": "sumFromBody",
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON: {
                                "schema": _ref("SumRequest"),
                                "examples": _sum_examples(
                                    settings, lambda numbers: {"numbers": numbers}
                                ),
                            }
                        },
                    },
                    "responses": {
                        "200": sum_result,
                        **error_responses(*api, JSON_BODY_ERRORS, BODY_ERRORS, *sums),
                    },
                },
            },
            "/logs": {
                "get": {
                    "operationId": "recentLogs",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_ENTRIES},
                        }
                    ],
                    "responses": {
                        "200": json_response(
                            _ref("LogEntries"), "The newest entries, newest first."
                        ),
                        **error_responses(*api, LIMIT_ERRORS, RECENT_ERRORS, CALL_ERRORS),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],  # open to orchestrators
                    "responses": {
                        "200": json_response(_ref("Health"), "The process serves HTTP."),
                        **error_responses(ANY_REQUEST),
                    },
                }
            },
            "/ready": {
                "get": {
                    "operationId": "ready",
                    "security": [],  # open to orchestrators
                    "responses": {
                        "200": json_response(
                            _ref("Readiness"), "Broker reachable, calc answering."
                        ),
                        # Not ready, and why; or refused like any request.
                        **error_responses(ANY_REQUEST, alternatives={503: _ref("Readiness")}),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "security": [],  # open to orchestrators
                    "responses": {
                        "200": json_response({"type": "object"}, "This document."),
                        **error_responses(ANY_REQUEST),
                    },
                }
            },
            "/asyncapi.json": {
                "get": {
                    "operationId": "asyncapi",
                    "security": [],  # open, like this document
                    "responses": {
                        "200": json_response(
                            {"type": "object"},
                            "The services' calls and events, as an AsyncAPI 3.0 document.",
                        ),
                        **error_responses(ANY_REQUEST),
                    },
                }
            },
        },
        # With API_KEYS_FILE, every operation but health, readiness, metrics and the documents.
        "security": [{"bearer": []}, {"apiKey": []}] if settings.api_keys_file else [],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "SumRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["numbers"],
                    "properties": {"numbers": some_numbers},
                },
                "SumResult": {
                    "type": "object",
                    "required": ["result", "request_id"],
                    "properties": {
                        "result": SUM,
                        "request_id": {"type": "string"},
                    },
                },
                "LogEntries": {
                    "type": "object",
                    "required": ["entries"],
                    "properties": {"entries": {"type": "array", "items": _ref("LogEntry")}},
                },
                "LogEntry": LOG_ENTRY,
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["ok"]}},
                },
                "Readiness": {
                    "type": "object",
                    "required": ["ready"],
                    "properties": {
                        "ready": {"type": "boolean"},
                        # Why calc.ping failed.
                        "reason": error_detail(kind_of(error).code for error in CALL_ERRORS),
                    },
                },
            },
        },
    }
