"""The ./pants bootstrap script on a machine without Python 3.9."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def test_without_python39_it_says_how_to_get_one(tmp_path: Path) -> None:
    # A PATH holding only the tools the script needs before it looks for Python.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mkdir", "flock"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "PANTS_BOOTSTRAP_CACHE": str(tmp_path / "cache"),
    }
    result = subprocess.run(
        ["/bin/bash", "pants", "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "needs a Python 3.9 interpreter" in result.stderr
    assert "pyenv install 3.9" in result.stderr
    assert not list((tmp_path / "cache").glob("pants-2.17.1*/venv"))
