"""The docs site's pages that come from the code, made as MkDocs builds them (mkdocs.yml).

- ``configuration.md``: its settings table gets a Default column, read from `Settings`.
  A setting with no row in the table is a warning, so ``mkdocs build --strict`` fails.
- ``http-api.md``: the line ``<!-- openapi -->`` becomes the gateway's OpenAPI document,
  rendered as tables, and the document itself.
- ``messaging.md``: the line ``<!-- asyncapi -->`` becomes the AsyncAPI document, rendered
  as tables (`asyncapi_page`), and the document itself, which the site serves as
  ``asyncapi.json`` too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from typing import Any

from mkdocs.structure.files import File, Files

from asyncapi_page import render_asyncapi
from schema_text import fields, indent, schema_type, table, yes

with warnings.catch_warnings():
    # Nameko imports eventlet, which announces its maintenance mode at import.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from calc.main import METRICS_PORT as CALC_METRICS_PORT
    from gateway.asyncapi import asyncapi_document
    from gateway.openapi import openapi_document
    from log.main import METRICS_PORT as LOG_METRICS_PORT
    from runtime.config import Settings

log = logging.getLogger("mkdocs.hooks.code_pages")

SETTINGS_HEADER = "| Variable | Used by | Meaning |"
OPENAPI_MARKER = "<!-- openapi -->"
ASYNCAPI_MARKER = "<!-- asyncapi -->"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs' hook for a page's Markdown, before it is rendered."""
    if page.file.src_uri == "configuration.md":
        return with_settings_defaults(markdown)
    if page.file.src_uri == "http-api.md":
        document = openapi_document(Settings(api_keys_file="API_KEYS_FILE"))
        return markdown.replace(OPENAPI_MARKER, render_openapi(document))
    if page.file.src_uri == "messaging.md":
        return markdown.replace(ASYNCAPI_MARKER, render_asyncapi(asyncapi_document(Settings())))
    return markdown


def on_files(files: Files, config: Any) -> Files:
    """MkDocs' hook for the site's files: the AsyncAPI document joins them, for tools."""
    document = json.dumps(asyncapi_document(Settings()), indent=2)
    files.append(File.generated(config, "asyncapi.json", content=document))
    return files


# --- the settings table ---------------------------------------------------------------


def default_text(value: Any) -> str:
    """A setting's default as the environment would spell it."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return "(unset)"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


# Defaults a service's main gives (`launch.boot.run`), where `Settings` has none of its own.
PER_SERVICE_DEFAULTS = {
    "METRICS_PORT": {"calc": CALC_METRICS_PORT, "log": LOG_METRICS_PORT},
}


def settings_defaults() -> dict[str, str]:
    """Each setting's default as the Default column shows it."""
    defaults = {
        f.name.upper(): default_text(getattr(Settings(), f.name))
        for f in dataclasses.fields(Settings)
    }
    for name, by_service in PER_SERVICE_DEFAULTS.items():
        defaults[name] = ", ".join(f"`{port}` ({service})" for service, port in by_service.items())
    return defaults


def with_settings_defaults(markdown: str) -> str:
    """The settings table with a Default column from `Settings`; a variable that is not a
    `Settings` field (such as ``AMQP_URI_FILE``) has none, so is "(unset)"."""
    defaults = settings_defaults()
    lines = markdown.split("\n")
    if SETTINGS_HEADER not in lines:
        log.warning("configuration.md has no settings table (%s)", SETTINGS_HEADER)
        return markdown
    start = lines.index(SETTINGS_HEADER)
    end = start + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    rows, named = [], set()
    for row in lines[start + 2 : end]:
        name_cell, rest = row[1:].split("|", 1)
        name = name_cell.strip().strip("`")
        named.add(name)
        default = defaults.get(name, "(unset)")
        rows.append(f"|{name_cell}| {default} |{rest}")
    for name in sorted(set(defaults) - named):
        log.warning("configuration.md: the setting %s has no row in the settings table", name)
    header = ["| Variable | Default | Used by | Meaning |", "|---|---|---|---|"]
    return "\n".join(lines[:start] + header + rows + lines[end:])


# --- the OpenAPI document -------------------------------------------------------------


def render_openapi(document: dict[str, Any]) -> str:
    """The document as Markdown: operations, response headers, schemas, then itself."""
    parts = [_operations(document), _headers(document), _schemas(document)]
    source = json.dumps(document, indent=2)
    parts.append(
        '??? note "The whole document: `GET /openapi.json` with the default settings and '
        '`API_KEYS_FILE` set"\n\n' + indent("```json\n" + source + "\n```")
    )
    return "\n\n".join(parts)


def _operations(document: dict[str, Any]) -> str:
    schemes = document["components"].get("securitySchemes", {})
    keyed = " or ".join(_scheme(s) for s in schemes.values())
    out = ["## Operations"]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            out.append(f"### `{method.upper()} {path}`")
            if op.get("description"):
                out.append(op["description"])
            needs_key = bool(op.get("security", document.get("security", [])))
            access = f"needs a key when `API_KEYS_FILE` is set: {keyed}" if needs_key else "open"
            out.append(f"Operation `{op['operationId']}`, {access}.")
            out += _parameters(op.get("parameters", []))
            body = op.get("requestBody")
            if body:
                for media, content in body["content"].items():
                    required = "required" if body.get("required") else "optional"
                    out.append(f"Body ({required}): `{media}`, {schema_type(content['schema'])}.")
            out += _responses(op["responses"])
    return "\n\n".join(out)


def _scheme(scheme: dict[str, Any]) -> str:
    if scheme["type"] == "http" and scheme.get("scheme") == "bearer":
        return "`Authorization: Bearer <key>`"
    if scheme["type"] == "apiKey":
        return f"`{scheme['name']}: <key>` ({scheme['in']})"
    return f"`{json.dumps(scheme)}`"


def _parameters(parameters: list[dict[str, Any]]) -> list[str]:
    if not parameters:
        return []
    rows = [
        (
            f"`{p['name']}`",
            p["in"],
            yes(p.get("required")),
            schema_type(p["schema"]),
            p.get("description", ""),
        )
        for p in parameters
    ]
    return [table(("Parameter", "In", "Required", "Type", "Description"), rows)]


def _responses(responses: dict[str, Any]) -> list[str]:
    """One row per answer; statuses that answer alike share a row."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for status, response in responses.items():
        bodies = [schema_type(c["schema"]) for c in response.get("content", {}).values()]
        key = (response.get("description", ""), ", ".join(bodies) or "none")
        grouped.setdefault(key, []).append(f"`{status}`")
    rows = [(", ".join(s), d, b) for (d, b), s in grouped.items()]
    return [table(("Status", "Answer", "Body"), rows)]


def _headers(document: dict[str, Any]) -> str:
    headers: dict[str, dict[str, Any]] = {}
    for methods in document["paths"].values():
        for op in methods.values():
            for response in op["responses"].values():
                headers.update(response.get("headers", {}))
    rows = [
        (f"`{n}`", schema_type(h["schema"]), h.get("description", "")) for n, h in headers.items()
    ]
    return "## Response headers\n\n" + table(("Header", "Type", "Description"), rows)


def _schemas(document: dict[str, Any]) -> str:
    out = ["## Schemas"]
    for name, schema in document["components"]["schemas"].items():
        out.append(f"### {name}")
        if schema.get("description"):
            out.append(schema["description"])
        if schema.get("additionalProperties") is False:
            out.append("No other fields are accepted.")
        out.append(table(("Field", "Type", "Required"), fields(schema)))
    return "\n\n".join(out)
