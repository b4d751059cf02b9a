"""``devstack.pex up|down|status``: the embedded stack's command line, run by ``./stack``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devstack.embedded import EmbeddedStack, Report, read_env_file
from devstack.processes import SERVICES

# Settings the stack reads that .env may leave out.
OVERRIDABLE = ("GATEWAY_PORT", "BROKER_USER", "BROKER_PASSWORD")


def _replicas(values: list[str]) -> dict[str, int]:
    replicas = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in SERVICES or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"--scale takes SERVICE=N (N >= 1), got {value!r}")
        replicas[name] = int(count)
    if replicas.get("gateway", 1) != 1 or replicas.get("log", 1) != 1:
        raise argparse.ArgumentTypeError(
            "the embedded stack runs one gateway (one port) and one log (one SQLite writer)"
        )
    return replicas


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--pex-dir", type=Path, default=Path("dist"))
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=N")
    args = parser.parse_args()
    # As with compose, the environment overrides .env.
    env = read_env_file(args.env_file) if args.env_file.exists() else {}
    env.update((key, os.environ[key]) for key in (*env, *OVERRIDABLE) if key in os.environ)
    stack = EmbeddedStack(args.state_dir.resolve(), args.pex_dir.resolve(), env)
    # Indented under ./stack's one line per step.
    report = Report(say=lambda line: print(f"{'':20}{line}", flush=True))
    if args.command == "up":
        try:
            replicas = _replicas(args.scale)
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
        stack.up(replicas, report)
    elif args.command == "down":
        if not stack.down(report):
            report("the embedded stack is not running")
    else:
        sys.exit(0 if stack.running() else 3)
