"""The configuration page names every environment variable the services read, and no other.

What the services read is found in their code: the `Settings` fields (each read as its
upper-case name), and every name a service module looks up in the process environment
(``os.environ``, ``os.getenv``, or a parameter that defaults to ``os.environ``). The
OpenTelemetry SDK reads its own ``OTEL_*`` variables in the services too: the page may
name those of them it documents.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import opentelemetry.sdk.environment_variables as otel_sdk_variables

from docs.markdown_text import code
from runtime.config import Settings

PAGE = Path("docs/configuration.md")
SOURCES = Path("src/python")
# Not part of any service: the stack without containers, for ./stack and the tests.
NOT_SERVICES = {"devstack"}
VARIABLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and (isinstance(node.value, ast.Name) and node.value.id == "os")
    )


def lookups(tree: ast.AST, environ_names: set[str]) -> set[str]:
    """Constant names looked up in `os.environ`, or in the parameters named, under `tree`."""

    def environ(node: ast.AST) -> bool:
        return is_os_environ(node) or (isinstance(node, ast.Name) and node.id in environ_names)

    def constant(node: ast.AST) -> str | None:
        return (
            node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
        )

    found = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Subscript) and environ(node.value):
            name = constant(node.slice)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            function = node.func
            if function.attr == "get" and environ(function.value):
                name = constant(node.args[0])
            elif function.attr == "getenv" and ast.unparse(function.value) == "os":
                name = constant(node.args[0])
        elif isinstance(node, ast.Compare) and any(environ(c) for c in node.comparators):
            name = constant(node.left)
        if name:
            found.add(name)
    return found


def environment_lookups(source: str) -> set[str]:
    tree = ast.parse(source)
    found = lookups(tree, set())
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = function.args.posonlyargs + function.args.args
            defaults = dict(zip(reversed(arguments), reversed(function.args.defaults)))
            defaults |= {
                a: d for a, d in zip(function.args.kwonlyargs, function.args.kw_defaults) if d
            }
            names = {a.arg for a, default in defaults.items() if is_os_environ(default)}
            if names:
                found |= lookups(function, names)
    return found


def variables_the_services_read() -> set[str]:
    names = {field.name.upper() for field in dataclasses.fields(Settings)}
    for path in sorted(SOURCES.rglob("*.py")):
        if path.name.endswith("_test.py") or path.relative_to(SOURCES).parts[0] in NOT_SERVICES:
            continue
        names |= environment_lookups(path.read_text())
    return names


def variables_on_the_page() -> set[str]:
    """The names in the first column of the page's tables, and every other name with an
    underscore in code (a one-word value such as ``INFO`` is not a variable)."""
    text = PAGE.read_text()
    first_cells = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", text, flags=re.MULTILINE)
    return set(first_cells) | set(VARIABLE.findall(code(text)))


def test_the_code_scan_finds_what_the_services_read_outside_settings() -> None:
    """The scan itself: the variables known to be read beside `Settings`."""
    read = variables_the_services_read()
    assert {"AMQP_URI_FILE", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SDK_DISABLED"} <= read
    assert "LOG_STORE_PATH" in read
    assert environment_lookups(
        "import os\n"
        "def f(env=os.environ):\n"
        "    return env.get('A_B'), env['C_D'], 'E_F' in env, os.getenv('G_H')\n"
        "def g(environ):\n"
        "    return environ.get('HTTP_HOST')\n"  # a WSGI environ, not the process's
    ) == {"A_B", "C_D", "E_F", "G_H"}


def test_the_configuration_page_names_every_variable_the_services_read() -> None:
    unnamed = variables_the_services_read() - variables_on_the_page()
    assert not unnamed, f"read by the services, missing from {PAGE}: {sorted(unnamed)}"


def test_the_configuration_page_names_no_variable_the_services_do_not_read() -> None:
    sdk = {value for name, value in vars(otel_sdk_variables).items() if name.startswith("OTEL_")}
    extra = variables_on_the_page() - variables_the_services_read() - sdk
    assert not extra, f"named on {PAGE}, read by no service: {sorted(extra)}"
