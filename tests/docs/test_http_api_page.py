"""The HTTP API page's error table against the codes the gateway's OpenAPI document lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway.openapi import openapi_document
from runtime.config import Settings

# werkzeug's own refusals, for a path or method that no operation has.
OUTSIDE_ANY_OPERATION = {"not_found", "method_not_allowed"}


def documented_codes(document: dict[str, Any]) -> set[str]:
    """Every error code any operation's responses list (their ``code`` enums)."""
    codes: set[str] = set()
    for operation in (op for ops in document["paths"].values() for op in ops.values()):
        for response in operation["responses"].values():
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            error = schema.get("properties", {}).get("error", {})
            codes.update(error.get("properties", {}).get("code", {}).get("enum", ()))
    return codes


def table_codes() -> set[str]:
    section = Path("docs/http-api.md").read_text().split("\n## Errors\n", 1)[1]
    rows = [line for line in section.split("\n\n", 1)[0].splitlines() if line.startswith("| ")]
    return {code for row in rows for code in re.findall(r"`([a-z_]+)`", row.split("|")[2])}


def test_the_error_table_names_every_code_the_api_answers_and_no_other() -> None:
    # Keys and a rate limit on: the document then lists 401 and 429 too.
    settings = Settings(api_keys_file="API_KEYS_FILE", rate_limit=10)
    answered = documented_codes(openapi_document(settings)) | OUTSIDE_ANY_OPERATION
    assert len(answered) > 15, answered
    table = table_codes()
    assert not answered - table, f"answered, missing from the table: {sorted(answered - table)}"
    assert not table - answered, f"in the table, answered by nothing: {sorted(table - answered)}"
