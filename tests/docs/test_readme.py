"""The README stays a front page: short, its quick start CI's two commands, its links good."""

from __future__ import annotations

import re
from pathlib import Path

from docs.markdown_text import README, anchors, code_blocks, links

TEXT = README.read_text()


def test_the_readme_is_at_most_150_lines() -> None:
    assert len(TEXT.splitlines()) <= 150


def test_the_quick_start_opens_with_the_two_commands_ci_runs() -> None:
    """``.ci/run`` runs these two, and a hook reads them from the first block."""
    section = TEXT.split("\n## Quick start\n", 1)[1]
    first_block = code_blocks(section)[0]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    assert [c for c in commands if c] == ["./stack up --yes", "./stack test --yes"]


def test_every_link_in_the_readme_leads_to_a_file_and_heading_that_exist() -> None:
    found = links(TEXT)
    assert len(found) >= 12, found
    broken = []
    for link in found:
        target, _, anchor = link.partition("#")
        if re.match(r"[a-z]+:", target):
            broken.append(f"{link} (leaves the repository: a test cannot follow it)")
            continue
        path = Path(target) if target else README
        if not path.exists():
            broken.append(f"{link} (no such file)")
        elif anchor and anchor not in anchors(path.read_text()):
            broken.append(f"{link} (no such heading in {path})")
    assert not broken, f"the README's links that do not resolve: {broken}"
