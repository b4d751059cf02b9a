"""The README and the docs site's pages as the tests read them: code, links, headings."""

from __future__ import annotations

import re
from pathlib import Path

from markdown.extensions.toc import slugify  # pants: no-infer-dep (MkDocs brings it)

README = Path("README.md")
PAGES = sorted(Path("docs").glob("*.md"))

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def code_blocks(text: str, language: str = "") -> list[str]:
    """The fenced blocks' contents (of one language, if named)."""
    pattern = rf"^```{re.escape(language)}[^\n]*\n(.*?)^```"
    return re.findall(pattern, text, flags=re.MULTILINE | re.DOTALL)


def code(text: str) -> str:
    """Every code span and code block, as one text."""
    prose = _FENCE.sub("", text)
    return " ".join(re.findall(r"`([^`\n]+)`", prose) + code_blocks(text))


def links(text: str) -> list[str]:
    """The target of every Markdown link outside code."""
    prose = re.sub(r"`[^`\n]+`", "", _FENCE.sub("", text))
    return re.findall(r"\]\(([^)\s]+)\)", prose)


def anchors(text: str) -> set[str]:
    """The ids of a page's headings, as MkDocs' table of contents makes them."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", _FENCE.sub("", text), flags=re.MULTILINE)
    return {slugify(re.sub(r"[`*]", "", heading), "-") for heading in headings}
