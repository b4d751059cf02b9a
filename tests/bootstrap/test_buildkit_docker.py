"""build-support/buildkit-docker: which docker client ./pants gives Pants for image builds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def fake_docker(directory: Path, version: str, *, buildx: bool) -> Path:
    """A `docker` that prints `version` for --version and has buildx or not."""
    directory.mkdir()
    docker = directory / "docker"
    buildx_exit = 0 if buildx else 1
    docker.write_text(
        "#!/bin/sh\n"
        f'[ "$1" = --version ] && echo "Docker version {version}, build 0000000" && exit 0\n'
        f'[ "$1" = buildx ] && exit {buildx_exit}\n'
        "exit 2\n"
    )
    docker.chmod(0o755)
    return docker


def choose(tmp_path: Path, *clients: Path) -> subprocess.CompletedProcess[str]:
    tools = tmp_path / "tools"
    tools.mkdir()
    found = shutil.which("readlink")
    assert found
    (tools / "readlink").symlink_to(found)
    path = ":".join([*(str(c.parent) for c in clients), str(tools)])
    return subprocess.run(
        ["/bin/bash", "build-support/buildkit-docker"],
        env={"PATH": path}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_a_newer_client_without_buildx_is_passed_over_for_the_engines_own(
    tmp_path: Path,
) -> None:
    newer = fake_docker(tmp_path / "local", "28.2.2", buildx=False)
    debian = fake_docker(tmp_path / "usr", "20.10.24+dfsg1", buildx=False)
    chosen = choose(tmp_path, newer, debian)
    assert (chosen.returncode, chosen.stdout.strip()) == (0, str(debian)), chosen.stderr


def test_a_client_with_buildx_is_taken_first(tmp_path: Path) -> None:
    with_buildx = fake_docker(tmp_path / "local", "28.2.2", buildx=True)
    debian = fake_docker(tmp_path / "usr", "20.10.24+dfsg1", buildx=False)
    chosen = choose(tmp_path, with_buildx, debian)
    assert (chosen.returncode, chosen.stdout.strip()) == (0, str(with_buildx)), chosen.stderr


def test_without_any_it_fails_saying_what_to_install(tmp_path: Path) -> None:
    chosen = choose(tmp_path, fake_docker(tmp_path / "local", "28.2.2", buildx=False))
    assert chosen.returncode == 1
    assert chosen.stdout == ""
    assert "install Docker's buildx plugin" in chosen.stderr
