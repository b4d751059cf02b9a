"""The service images built twice from the same inputs are the same images.

The first build runs on an engine that has none of the project's images nor any build
cache: a private engine of this test's own, holding the base image alone, as on a new
machine. The three images are built at once, as `./pants package docker::` builds them,
with the client and builder settings Pants uses (build-support/buildkit-docker and
pants.toml's [docker] env_vars), the Dockerfile and build arguments of docker/BUILD, and
the PEXes Pants built. A test cannot run Pants inside Pants; everything else is Pants'.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.prerequisites import missing
from harness.private_engine import PrivateEngine, can_run_engines, remove_engine_dir, run

SERVICES = ("calc", "gateway", "log")
NAMESPACE = "nameko-cold-build"
DIR_PREFIX = "cold-build-engine-"
BASE_IMAGE = os.environ.get("BASE_IMAGE") or "local/python:3.11"


def pants_docker_env() -> dict[str, str]:
    """The variables pants.toml sets for every `docker` that Pants runs."""
    settings = tomllib.loads(Path("pants.toml").read_text())["docker"]["env_vars"]
    return dict(entry.split("=", 1) for entry in settings if "=" in entry)


def buildkit_client() -> str:
    chosen = subprocess.run(
        ["bash", "build-support/buildkit-docker"], capture_output=True, text=True, check=False
    )
    if chosen.returncode != 0:
        missing(chosen.stderr.strip())
    return chosen.stdout.strip()


@pytest.fixture
def cold_engine() -> Iterator[PrivateEngine]:
    unable = can_run_engines()
    if unable:
        missing(unable)
    if run("docker", "image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        missing(f"the base image {BASE_IMAGE} is not on this machine's engine (./stack test)")
    # What an interrupted run left.
    for directory in Path(tempfile.gettempdir()).glob(f"{DIR_PREFIX}*"):
        remove_engine_dir(directory)
    run("ip", "netns", "delete", NAMESPACE, check=False)

    run("ip", "netns", "add", NAMESPACE)
    engine = PrivateEngine(
        Path(tempfile.mkdtemp(prefix=DIR_PREFIX)), NAMESPACE, "nameko-cold-build"
    )
    try:
        engine.start()
        saved = subprocess.run(["docker", "save", BASE_IMAGE], capture_output=True, check=True)
        subprocess.run(
            ["docker", "-H", engine.socket, "load"], input=saved.stdout, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
        yield engine
    finally:
        engine.close()
        run("ip", "netns", "delete", NAMESPACE, check=False)


def build_contexts(root: Path) -> dict[str, Path]:
    """One context per service, laid out as Pants lays it out: the Dockerfile and the
    service's PEX at the path its pex_binary writes."""
    contexts = {}
    for service in SERVICES:
        context = root / service
        pex = Path(f"src.python.{service}/{service}.pex")
        (context / pex.parent).mkdir(parents=True)
        os.link(pex, context / pex)
        shutil.copy("docker/service.Dockerfile", context)
        contexts[service] = context
    return contexts


def build_all_at_once(engine: PrivateEngine, contexts: dict[str, Path]) -> dict[str, str]:
    """Builds every service's image concurrently; returns each one's image id."""
    client, env = buildkit_client(), {**os.environ, **pants_docker_env()}
    builds = {
        service: subprocess.Popen(
            [
                client, "-H", engine.socket, "build",
                "--tag", f"nameko-stack/{service}:latest",
                "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                "--build-arg", f"PEX=src.python.{service}/{service}.pex",
                "--file", str(context / "service.Dockerfile"), str(context),
            ],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        for service, context in contexts.items()
    }
    for service, build in builds.items():
        output, _ = build.communicate(timeout=240)
        assert build.returncode == 0, f"building {service}:\n{output}"
    return {
        service: engine.docker(
            "image", "inspect", "-f", "{{.Id}}", f"nameko-stack/{service}"
        ).stdout.strip()
        for service in SERVICES
    }


def test_a_second_build_of_the_same_inputs_changes_no_image(
    cold_engine: PrivateEngine, tmp_path: Path
) -> None:
    images = cold_engine.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert images == [BASE_IMAGE], "the first build starts with the base image alone"
    contexts = build_contexts(tmp_path)

    first = build_all_at_once(cold_engine, contexts)
    assert len(set(first.values())) == len(SERVICES), first
    second = build_all_at_once(cold_engine, contexts)

    rebuilt = sorted(service for service in SERVICES if second[service] != first[service])
    assert not rebuilt, f"built again from unchanged inputs: {rebuilt} ({first} -> {second})"
