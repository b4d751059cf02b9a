"""The gateway's API as an OpenAPI 3.0 document, served at ``GET /openapi.json``.

Generated from the running settings, so its limits are the ones the gateway enforces.
The fuzz tests drive the API from this document, which keeps it honest.
"""

from __future__ import annotations

from typing import Any

from runtime.config import Settings

JSON = "application/json"

_REQUEST_ID = {
    "X-Request-ID": {
        "description": "The client's request id if it was safe to echo, else a new one.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    }
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _REQUEST_ID,
        "content": {JSON: {"schema": schema}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ERROR = _json(_ref("Error"), "An error, with a machine-readable code.")


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _ERROR for status in statuses} | {"default": _ERROR}


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document for a gateway running with `settings`."""
    number = {"type": "number"}
    sum_result = _json(_ref("SumResult"), "The exact sum.")
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
                            "description": "Comma-separated decimal numbers, e.g. 1,2.5,-3",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": sum_result, **_errors(400, 401, 429, 503, 504)},
                },
                "post": {
                    "operationId": "sumFromBody",
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("SumRequest")}},
                    },
                    "responses": {
                        "200": sum_result,
                        **_errors(400, 401, 408, 413, 415, 429, 503, 504),
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
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        }
                    ],
                    "responses": {
                        "200": _json(_ref("LogEntries"), "The newest entries, newest first."),
                        **_errors(400, 401, 429, 503, 504),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],  # open to orchestrators
                    "responses": {"200": _json(_ref("Health"), "The process serves HTTP.")},
                }
            },
            "/ready": {
                "get": {
                    "operationId": "ready",
                    "security": [],  # open to orchestrators
                    "responses": {
                        "200": _json(_ref("Readiness"), "Broker reachable, calc answering."),
                        "503": _json(_ref("Readiness"), "Not ready, and why."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "security": [],  # open to orchestrators
                    "responses": {"200": _json({"type": "object"}, "This document.")},
                }
            },
        },
        # With API_KEYS_FILE, every operation but health, readiness, metrics and this one.
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
                    "properties": {
                        "numbers": {
                            "type": "array",
                            "items": number,
                            "minItems": 1,
                            "maxItems": settings.max_numbers,
                        }
                    },
                },
                "SumResult": {
                    "type": "object",
                    "required": ["result", "request_id"],
                    "properties": {"result": number, "request_id": {"type": "string"}},
                },
                "LogEntries": {
                    "type": "object",
                    "required": ["entries"],
                    "properties": {"entries": {"type": "array", "items": _ref("LogEntry")}},
                },
                "LogEntry": {
                    "type": "object",
                    "required": ["event_id", "time", "source", "request_id", "payload"],
                    "properties": {
                        "event_id": {"type": "string"},
                        "time": {"type": "string", "format": "date-time"},
                        "source": {"type": "string"},
                        "request_id": {"type": "string"},
                        "payload": {
                            "type": "object",
                            "required": ["numbers", "result"],
                            "properties": {
                                "numbers": {"type": "array", "items": number},
                                "result": number,
                            },
                        },
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["ok"]}},
                },
                "Readiness": {
                    "type": "object",
                    "required": ["ready"],
                    "properties": {"ready": {"type": "boolean"}, "reason": _ref("ErrorDetail")},
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": _ref("ErrorDetail")},
                },
                "ErrorDetail": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
