"""The layers under ``src/python/`` (see docs/architecture.md), checked on
the source: every import points down or stays in its own package, and none goes round."""

from __future__ import annotations

from pathlib import Path

from devstack.sources import imports, modules

ROOT = Path("src/python")
# Package: layer. A package may import its own modules and those of lower layers only;
# packages on one layer know nothing of each other.
LAYERS = {
    "amqp_client": 0,
    "runtime": 0,
    "messaging": 1,
    "web": 1,
    "domain": 2,
    "launch": 3,
    "calc": 4,
    "log": 4,
    "gateway": 4,
}
# Tools beside the layers: they import none of them, and none imports them.
TOOLS = {"devstack"}
MAX_LINES = 310


def import_graph() -> dict[str, set[str]]:
    """Every module of the code (tests, which import what they test, are left out) and the
    project modules it imports, at any depth of the code (lazy imports too)."""
    found = modules(ROOT)
    return {name: imports(path, found) for name, path in found.items()}


def package(module: str) -> str:
    return module.split(".")[0]


def test_every_package_is_placed_in_a_layer() -> None:
    assert {package(m) for m in modules(ROOT)} == set(LAYERS) | TOOLS


def test_no_module_imports_a_higher_layer_or_a_sibling_package() -> None:
    wrong = []
    for module, imported in import_graph().items():
        for target in imported:
            source_package, target_package = package(module), package(target)
            if source_package == target_package:
                continue
            if source_package in TOOLS or target_package in TOOLS:
                wrong.append(f"{module} -> {target} (tools stand apart)")
            elif LAYERS[target_package] >= LAYERS[source_package]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_modules_stay_small() -> None:
    sizes = {path: len(path.read_text().splitlines()) for path in modules(ROOT).values()}
    long = {str(path): n for path, n in sizes.items() if n > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
