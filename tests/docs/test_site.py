"""The docs site builds as `mkdocs build --strict` builds it: any warning (a broken link, a
missing page or heading, a setting with no row) fails. The pages made from the code say
what the code says."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from mkdocs.__main__ import cli

from gateway.asyncapi import asyncapi_document
from gateway.openapi import openapi_document
from harness.default_ports import METRICS_PORTS
from runtime.config import Settings


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    site_dir = tmp_path_factory.mktemp("site")
    # MkDocs' own command line, in this process: it raises on the first failure, and
    # --strict turns every warning into one.
    cli.main(["build", "--strict", "-f", "mkdocs.yml", "-d", str(site_dir)], standalone_mode=False)
    yield site_dir


def page_text(site: Path, name: str) -> str:
    """A built page's article, as text (tags dropped, one table cell a line)."""
    page = (site / name / "index.html").read_text()
    article = page[page.index("<article") : page.index("</article>")]
    return html.unescape(re.sub(r"<[^>]+>", "", article))


def test_every_page_of_the_navigation_is_built(site: Path) -> None:
    pages = {p.stem for p in Path("docs").glob("*.md")} - {"index"}
    assert pages, "no pages"
    assert all((site / name / "index.html").exists() for name in pages)
    assert (site / "index.html").exists()


def test_the_configuration_page_shows_each_setting_with_its_default(site: Path) -> None:
    page = (site / "configuration" / "index.html").read_text()
    rows = dict(re.findall(r"<tr>\s*<td><code>([A-Z_]+)</code></td>\s*<td>(.*?)</td>", page))
    # Each service's main gives its own metrics port; Settings has none.
    per_service = ", ".join(f"<code>{port}</code> ({s})" for s, port in METRICS_PORTS.items())
    assert rows.pop("METRICS_PORT") == per_service
    for field in dataclasses.fields(Settings):
        if field.name == "metrics_port":
            continue
        default = getattr(Settings(), field.name)
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        expected = f"<code>{expected.removesuffix('.0')}</code>" if expected else "(unset)"
        assert rows.get(field.name.upper()) == expected, (field.name, rows.get(field.name.upper()))


def test_the_http_api_page_shows_every_operation_and_schema_of_the_document(site: Path) -> None:
    text = page_text(site, "http-api")
    document = openapi_document(Settings())
    for path, methods in document["paths"].items():
        for method in methods:
            assert f"{method.upper()} {path}" in text, (method, path)
    for schema in document["components"]["schemas"]:
        assert re.search(rf"^{schema}¶?$", text, flags=re.MULTILINE), schema


def test_the_messaging_page_shows_every_channel_header_and_error_of_the_document(
    site: Path,
) -> None:
    text = page_text(site, "messaging")
    document = asyncapi_document(Settings())
    schemas = document["components"]["schemas"]
    named = [
        *(channel["address"] for channel in document["channels"].values() if channel["address"]),
        *(server["host"] for server in document["servers"].values()),
        *schemas["NamekoHeaders"]["properties"],
        *(
            s["properties"]["exc_path"]["enum"][0]
            for s in schemas.values()
            if "exc_path" in s.get("properties", {}) and "enum" in s["properties"]["exc_path"]
        ),
    ]
    assert len(named) > 20
    missing = [name for name in named if name not in text]
    assert not missing, missing
    assert json.loads((site / "asyncapi.json").read_text()) == document
