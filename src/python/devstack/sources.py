"""Which source files each service runs, read from the imports in the source tree.

A service runs its own package and every module that package imports, at any depth and
lazily too (``launch.boot`` imports the service by name, so the whole package counts),
with the ``__init__`` of each package on the way. ``./stack dev`` restarts a service when
one of those files changes, and only then; tests (``*_test.py``) belong to none. The
layer test reads the same import graph.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path


def modules(root: Path) -> dict[str, Path]:
    """Every module under `root` by its dotted name (tests, which no service runs, left out)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        if path.name.endswith("_test.py"):
            continue
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(source: str) -> Iterator[str]:
    """Every name an import in `source` may bring in (``from a import b``: ``a``, ``a.b``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def imports(path: Path, known: Iterable[str]) -> set[str]:
    """The modules of `known` that the module at `path` imports."""
    return set(imported_names(path.read_text())) & set(known)


class SourceTree:
    """The import graph of the modules under `root`, parsed again wherever a file changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._parsed: dict[Path, tuple[str, set[str]]] = {}

    def _names(self, path: Path) -> set[str]:
        # By content, not modification time: two writes can share a (coarse) mtime.
        source = path.read_text()
        cached = self._parsed.get(path)
        if cached is None or cached[0] != source:
            try:
                cached = (source, set(imported_names(source)))
            except SyntaxError:
                cached = (source, set())  # a half-written file: its old imports are gone too
            self._parsed[path] = cached
        return cached[1]

    def files_of(self, package: str) -> set[Path]:
        """The files the service in `package` runs: its package, what it imports, and the
        ``__init__`` of each package on the way."""
        found = modules(self.root)
        known = set(found)
        wanted = [name for name in found if name == package or name.startswith(package + ".")]
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen:
                continue
            seen.add(name)
            parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
            wanted += [p for p in parents if p in known]
            wanted += self._names(found[name]) & known
        return {found[name] for name in seen}

    def libraries_of(self, package: str) -> list[str]:
        """Every other module the service's files import (the standard library's too)."""
        ours = {name.split(".")[0] for name in modules(self.root)} | {"__future__"}
        names = set().union(*(self._names(path) for path in self.files_of(package)))
        return sorted(name for name in names if name.split(".")[0] not in ours)

    def owners(self, packages: Iterable[str]) -> dict[Path, set[str]]:
        """Each file, and the services (by package) that run it."""
        owned: dict[Path, set[str]] = {}
        for package in packages:
            for path in self.files_of(package):
                owned.setdefault(path, set()).add(package)
        return owned
