"""The service images that ``./pants package ::`` builds, as the local engine holds them."""

from __future__ import annotations

import subprocess


def image_bytes(service: str) -> int | None:
    """The size of the service's runtime image as `docker images` counts it; None if absent."""
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", f"nameko-stack/{service}:latest"],
        capture_output=True, text=True,
    )  # fmt: skip
    return int(inspected.stdout) if inspected.returncode == 0 else None
