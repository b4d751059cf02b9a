"""Markdown for the pages made from the code's documents (OpenAPI, AsyncAPI): a JSON Schema
in a few words, and tables."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any


def schema_type(schema: dict[str, Any]) -> str:
    """A schema in a few words: its type, reference, values and limits."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{name.lower()})"
    for alternatives in ("oneOf", "anyOf"):
        if alternatives in schema:
            return " or ".join(schema_type(s) for s in schema[alternatives])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        kind = "array of " + schema_type(schema.get("items", {}))
    elif schema.get("format"):
        kind += f" ({schema['format']})"
    said = []
    if "enum" in schema:
        said.append("one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"]))
    for low, high, unit in BOUNDS:
        if low in schema or high in schema:
            said.append(bounds(schema.get(low), schema.get(high)) + unit)
    if "pattern" in schema:
        said.append(f"matching `{schema['pattern']}`")
    return kind + (": " + ", ".join(said) if said else "")


def fields(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """Each field of an object schema, with inline objects' fields as ``outer.inner``."""
    found = []
    required = set(schema.get("required", []))
    for name, field in schema.get("properties", {}).items():
        found.append((f"`{prefix}{name}`", schema_type(field), yes(name in required)))
        if field.get("type") == "object" and "properties" in field:
            found += fields(field, prefix + name + ".")
    return found


BOUNDS = (
    ("minimum", "maximum", ""),
    ("minLength", "maxLength", " characters"),
    ("minItems", "maxItems", " items"),
)


def bounds(low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def yes(value: Any) -> str:
    return "yes" if value else "no"


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """A Markdown table; a ``|`` inside a cell is escaped."""
    lines = [header, tuple("---" for _ in header)] + [
        tuple(cell.replace("|", "\\|") for cell in row) for row in rows
    ]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def indent(text: str) -> str:
    return re.sub(r"^(?=.)", "    ", text, flags=re.MULTILINE)
