"""The README's claims that can go stale: its settings table and the paths it names."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from harness.default_ports import METRICS_PORTS
from runtime.config import Settings

README = Path("README.md").read_text()

# Settings read outside the `Settings` dataclass.
EXTRA_SETTINGS = {"AMQP_URI_FILE"}


def configuration_table() -> dict[str, str]:
    """Each row of the "Configuration" table: variable -> default, as written."""
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (.+?) \|", section, flags=re.MULTILINE)
    return dict(rows)


def test_the_configuration_table_lists_every_setting_with_its_default() -> None:
    table = configuration_table()
    defaults = {f.name.upper(): getattr(Settings(), f.name) for f in dataclasses.fields(Settings)}
    assert set(table) == set(defaults) | EXTRA_SETTINGS
    per_service = ", ".join(f"`{port}` ({service})" for service, port in METRICS_PORTS.items())
    assert table.pop("METRICS_PORT") == per_service
    del defaults["METRICS_PORT"]
    for name, default in defaults.items():
        written = table[name].strip("`")
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        expected = expected or "(unset)"
        assert written in (expected, expected.removesuffix(".0")), (name, written, default)


def repository_paths() -> set[str]:
    """Paths under the repository's own folders that the README names in code.

    (``.ci/`` is left out: Pants does not copy dot-folders into a test's sandbox, and CI
    runs ``.ci/run`` itself.)
    """
    code = " ".join(re.findall(r"`([^`\n]+)`", README) + re.findall(r"```.*?```", README, re.S))
    pattern = r"(?<![\w./-])((?:benchmarks|deploy|docker|src/python|tests)/[\w./-]*\w)"
    return set(re.findall(pattern, code))


def test_every_path_the_readme_names_exists() -> None:
    paths = repository_paths()
    assert len(paths) > 10, paths
    missing = sorted(p for p in paths if not Path(p).exists())
    assert not missing, f"the README names paths that do not exist: {missing}"


def test_every_script_the_readme_runs_is_executable() -> None:
    scripts = {"docker/build-base-images", "docker/publish-check", "deploy/swarm/create-secrets",
               "benchmarks/run"}  # fmt: skip
    for script in scripts:
        assert script in README, script
        assert os.access(script, os.X_OK), script
