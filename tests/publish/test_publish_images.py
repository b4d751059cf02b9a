"""The images' registry tags, as `./pants publish ::` pushes them, round-trip a registry.

Pants tags each image for the registry in pants.toml (``$IMAGE_REGISTRY/nameko-stack/
<service>:<version>`` and ``:latest``); ``pants publish`` pushes exactly those tags. This
test pushes them to a throwaway registry at that address, deletes them locally, and pulls
each image back by the digest the push reported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from harness.prerequisites import missing
from harness.registry import LocalRegistry, RegistryUnavailable

SERVICES = ("calc", "gateway", "log")


def pushed_refs(service: str) -> tuple[str, list[str]]:
    """The image id Pants recorded (BuildKit's full ``sha256:...`` id, or the legacy
    builder's short one: its prefix), and the registry tags it pushes."""
    info = json.loads(Path(f"docker/{service}.docker-info.json").read_text())
    refs = [t["name"] for r in info["registries"] for t in r["tags"] if not t["uses_local_alias"]]
    return info["image_id"].removeprefix("sha256:"), refs


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def test_every_image_is_pushed_and_pulled_back_by_digest() -> None:
    if os.environ.get("DOCKER_ENGINE") != "1":
        missing("no Docker engine: install one and start dockerd")
    host, _, port = os.environ.get("IMAGE_REGISTRY", "localhost:5000").partition(":")
    if host not in ("localhost", "127.0.0.1"):
        missing(f"IMAGE_REGISTRY={host} is not on this machine; the test needs its own")
    try:
        registry = LocalRegistry("127.0.0.1", int(port or 5000))
    except RegistryUnavailable as exc:
        missing(str(exc))
    try:
        for service in SERVICES:
            image_id, refs = pushed_refs(service)
            assert {ref.rsplit(":", 1)[1] for ref in refs} == {"0.1.0", "latest"}
            digests = set()
            for ref in refs:
                digests.update(re.findall(r"digest: (sha256:[0-9a-f]{64})", docker("push", ref)))
            (digest,) = digests  # both tags name one manifest
            assert sorted(registry.tags(f"nameko-stack/{service}")) == ["0.1.0", "latest"]

            repository = refs[0].rsplit(":", 1)[0]
            docker("rmi", *refs)
            docker("pull", f"{repository}@{digest}")
            pulled = docker("image", "inspect", "--format", "{{.Id}}", f"{repository}@{digest}")
            assert pulled.strip().removeprefix("sha256:").startswith(image_id)
            docker("tag", f"{repository}@{digest}", refs[0])  # leave the tags as built
    finally:
        registry.close()
