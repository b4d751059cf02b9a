"""``python -m launch.warm READY_FILE calc.main MODULE...``: a service's process started
before it is needed, so that ``./stack dev`` restarts a service without waiting for Python
and its libraries to load.

It switches to green threads and imports the libraries the service uses (the MODULEs,
which ``./stack dev`` reads from the service's imports), then writes READY_FILE: the
project's source files it has loaded (this module and `launch.boot`), which ``./stack dev``
must not see changed if it is to use this process. Given a line on stdin, it imports the
service's main module from source as it is then, and runs it; at the end of stdin it exits.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from pathlib import Path

from launch import boot

SOURCE_ROOT = Path(boot.__file__).resolve().parents[1]


def loaded_sources() -> list[str]:
    """The project's source files this process has loaded."""
    files = (getattr(module, "__file__", None) for module in list(sys.modules.values()))
    paths = {Path(f).resolve() for f in files if f}
    return sorted(str(p) for p in paths if p.is_relative_to(SOURCE_ROOT))


def main() -> None:
    ready_file, main_module, libraries = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    boot.monkey_patch()
    for name in libraries:
        # Only to be ready sooner: what fails here fails in the service too, or is not a
        # module (a name imported from a package).
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    written = ready_file.with_suffix(".tmp")
    written.write_text(json.dumps(loaded_sources()))
    written.rename(ready_file)
    try:
        started = sys.stdin.readline()
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal's group
        started = ""
    if not started:
        sys.exit(0)
    sys.argv = [main_module]
    importlib.import_module(main_module).main()


if __name__ == "__main__":
    main()
