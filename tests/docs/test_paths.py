"""The paths and scripts the README and the docs pages name exist, and the scripts run."""

from __future__ import annotations

import os
import re
from pathlib import Path

from docs.markdown_text import PAGES, README, code, code_blocks

TEXTS = {path: path.read_text() for path in [README, *PAGES]}

# Under these folders, and these files at the top: what the pages may name. (``.ci/`` is
# left out: Pants does not copy dot-folders into a test's sandbox, and CI runs
# ``.ci/run`` itself.)
_FOLDERS = r"(?:3rdparty|benchmarks|build-support|deploy|docker|docs|src/python|tests)/[\w./-]*\w"
_TOP_FILES = (
    r"docker-(?:compose|stack)[\w.-]*\.yml|config\.yaml|mkdocs\.yml|pants\.toml|\.env\.example"
)
PATH = re.compile(rf"(?<![\w./-])({_FOLDERS}|{_TOP_FILES})(?![\w-])")


def named_paths() -> dict[str, Path]:
    """Each repository path named in code in the README or a page, and where."""
    return {name: page for page, text in TEXTS.items() for name in PATH.findall(code(text))}


def test_every_path_the_pages_name_exists() -> None:
    paths = named_paths()
    assert len(paths) > 40, paths
    missing = sorted(f"{name} ({page})" for name, page in paths.items() if not Path(name).exists())
    assert not missing, f"paths named that do not exist: {missing}"


def commands_run() -> dict[str, Path]:
    """The first word of each command in a shell block, where it is a repository path:
    ``./stack``, ``docker/build-base-images``. Built files (``dist/``) are left out."""
    found = {}
    for page, text in TEXTS.items():
        for block in code_blocks(text, "sh"):
            for line in block.splitlines():
                words = [w for w in line.split() if not re.match(r"\w+=", w)]
                if words and "/" in words[0] and re.match(r"[\w.]", words[0]):
                    if not words[0].startswith(("dist/", "http")):
                        found[words[0].removeprefix("./")] = page
    return found


def test_every_script_the_pages_run_is_there_and_executable() -> None:
    scripts = commands_run()
    expected = {"stack", "pants", "benchmarks/run", "deploy/swarm/create-secrets",
                "docker/build-base-images", "docker/make-dev-certs"}  # fmt: skip
    assert expected <= set(scripts), scripts
    wrong = sorted(f"{s} ({page})" for s, page in scripts.items() if not os.access(s, os.X_OK))
    assert not wrong, f"commands the pages run that are not executable files: {wrong}"
