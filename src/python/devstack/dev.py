"""``./stack dev``: the three services from source against a private RabbitMQ node, each
restarted when a source file it runs changes, until Ctrl-C.

Run with a Python that has the lockfile's requirements (``./stack dev`` exports them as a
venv) and the source root on ``PYTHONPATH``; the services run on that same Python, from
that same source. Which files a service runs is read from the imports
(`devstack.sources`), again after every change: a change to a service's own package
restarts that service, one to a layer beneath restarts each service that imports it, and
the others keep running. Each restart prints the service, the file and the time from the
file's change to the service answering again (`devstack.restarts` keeps that short).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from watchfiles import PythonFilter, watch

from devstack.embedded import read_env_file, service_env
from devstack.probes import ConsumerProbe
from devstack.processes import SERVICES
from devstack.rabbit_node import PrivateNode, stop_detached
from devstack.restarts import DevService, Standby
from devstack.sources import SourceTree
from devstack.waiting import port_is_free, wait_for

READY_TIMEOUT = 60.0
HTTP_SERVICES = ("gateway",)  # ready once it serves HTTP over its broker link (`linked`)


def say(who: str, what: str, seconds: float | None = None) -> None:
    """One line, as ``./stack`` prints its steps."""
    elapsed = "" if seconds is None else f"{seconds:.2f}s"
    print(f"{who:<10} {elapsed:>7}  {what}", flush=True)


class DevStack:
    """The node and the services, for one ``./stack dev``."""

    def __init__(self, source_root: Path, state_dir: Path, env: dict[str, str], port: int):
        self.root = source_root.resolve()
        self.state_dir = state_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.logs = state_dir / "logs"
        self.tree = SourceTree(self.root)
        self.node = PrivateNode(
            directory=state_dir / "rabbitmq", users={"dev": secrets.token_urlsafe(24)}, name="dev"
        )
        uri_file = state_dir / "amqp-uri"
        self.env = {
            **service_env(env),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(Path.home()),
            "PYTHONPATH": str(self.root),
            "AMQP_URI_FILE": str(uri_file),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
            "LOG_STORE_PATH": str(state_dir / "log-store.sqlite3"),
        }
        self.services: dict[str, DevService] = {}
        self.probe: ConsumerProbe | None = None

    def run(self) -> None:
        started = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.node.start()
        # For the next ./stack dev, should this one end without stopping its node.
        (self.state_dir / "node.json").write_text(json.dumps(self.node.state()))
        self.probe = ConsumerProbe(self.node.uri())
        uri_file = Path(self.env["AMQP_URI_FILE"])
        uri_file.touch(mode=0o600)
        uri_file.write_text(self.node.uri() + "\n")
        say("rabbitmq", f"a private node on 127.0.0.1:{self.node.port}", time.monotonic() - started)
        self.services = {name: self._service(name) for name in SERVICES}
        self.restart(set(SERVICES), set(), time.time())
        warming = time.monotonic()
        wait_for(self._all_warm, READY_TIMEOUT, "the standbys to load their libraries")
        say("dev", "each service's next process is loaded, and waits", time.monotonic() - warming)
        say("dev", f"URL: {self.url}   try: curl '{self.url}/sum?numbers=1,2,3'")
        say("dev", f"logs: tail -f {self.logs}/*.log")
        say("dev", f"watching {self.root}: Ctrl-C stops everything")
        for changes in watch(
            self.root, watch_filter=PythonFilter(), step=50, rust_timeout=1000,
            yield_on_timeout=True,
        ):  # fmt: skip
            self._report_exits()
            if changes:
                self.changed({Path(path) for _, path in changes})

    def _service(self, name: str) -> DevService:
        log = self.logs / f"{name}.log"
        probe = self.probe
        assert probe is not None

        def new_standby() -> Standby:
            return Standby(name, sys.executable, self.env, log, self.tree.libraries_of(name))

        if name in HTTP_SERVICES:
            return DevService(
                name,
                new_standby,
                lambda: linked(self.url),
                lambda: port_is_free(self.port, reuse_address=True),
            )
        queue = f"rpc-{name}"
        return DevService(
            name,
            new_standby,
            lambda: probe.has_consumer(queue),
            lambda: not probe.has_consumer(queue),
        )

    def _all_warm(self) -> bool:
        return all(service.warm() for service in self.services.values())

    def changed(self, paths: set[Path]) -> None:
        """Restart every service that runs one of `paths`, timed from the first change."""
        owners = self.tree.owners(SERVICES)
        by_service: dict[str, list[Path]] = {}
        for path in sorted(paths):
            for name in sorted(owners.get(path, ())):
                by_service.setdefault(name, []).append(path)
            if path not in owners:
                say("dev", f"{self._shown(path)} changed: no service runs it")
        if by_service:
            self.restart(set(by_service), paths, _changed_at(paths), by_service)

    def restart(
        self,
        names: set[str],
        changed: set[Path],
        since: float,
        why: dict[str, list[Path]] | None = None,
    ) -> None:
        """Stop `names`, run their standbys, and report each as it answers."""
        ordered = [name for name in SERVICES if name in names]
        for name in ordered:
            self.services[name].stop()
        cold = set()
        for name in ordered:
            wait_for(self.services[name].is_gone, READY_TIMEOUT, f"{name} to have stopped")
            if not self.services[name].start(changed):
                cold.add(name)
        waiting = list(ordered)
        deadline = time.monotonic() + READY_TIMEOUT
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                service = self.services[name]
                if service.is_ready():
                    waiting.remove(name)
                    files = ", ".join(self._shown(p) for p in (why or {}).get(name, []))
                    what = f"restarted: {files} changed" if files else "started"
                    if files and name in cold:
                        what += " (not warm: its next process was still loading)"
                    say(name, what, time.time() - since)
                    service.prepare()
                elif not service.running():
                    waiting.remove(name)
                    self._report_exit(service)
            time.sleep(0.05)
        for name in waiting:
            say(name, f"not answering after {READY_TIMEOUT:g}s: see {self.logs}/{name}.log")

    def _report_exits(self) -> None:
        for service in self.services.values():
            if service.process is not None and not service.running():
                self._report_exit(service)

    def _report_exit(self, service: DevService) -> None:
        assert service.process is not None
        status = service.process.returncode
        tail = (self.logs / f"{service.name}.log").read_text(errors="replace").splitlines()[-15:]
        say(service.name, f"exited ({status}); it starts again when its files change. Its log:")
        print("\n".join(f"{'':20}{line}" for line in tail), flush=True)
        service.process = None
        service.prepare()

    @staticmethod
    def _shown(path: Path) -> str:
        """`path` as the user ran ./stack: from the checkout's root."""
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)

    def close(self) -> None:
        for service in self.services.values():
            service.close()
        if self.probe is not None:
            self.probe.close()
        self.node.close()
        shutil.rmtree(self.node.dir, ignore_errors=True)
        (self.state_dir / "node.json").unlink(missing_ok=True)


def linked(url: str) -> bool:
    """Whether the gateway at `url` serves requests over its broker link: its readiness
    check answers, and not that the broker is out of reach (calc need not be up)."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as refused:
        reason = json.loads(refused.read() or b"{}").get("reason") or {}
        return refused.code == 503 and reason.get("code") not in (None, "broker_unavailable")
    except (OSError, ValueError):
        return False


def _changed_at(paths: set[Path]) -> float:
    """When the first of `paths` changed (now, for one that is gone)."""
    times = []
    for path in paths:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            times.append(time.time())
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack.dev", description=__doc__)
    parser.add_argument("--source-root", type=Path, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    env = read_env_file(args.env_file) if args.env_file.exists() else {}
    if not port_is_free(args.port, reuse_address=True):
        sys.exit(f"dev: something listens on 127.0.0.1:{args.port}; stop it, or set GATEWAY_PORT")
    # A terminal's hang-up or a SIGTERM stops everything as Ctrl-C does. Ctrl-C's own
    # handler is set too: started in the background of a shell, this process would ignore
    # SIGINT, and so would the services it starts, which it stops with SIGINT.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    left = args.state_dir / "node.json"  # by a ./stack dev that could not stop its node
    if left.exists():
        stop_detached(json.loads(left.read_text()))
    shutil.rmtree(args.state_dir / "rabbitmq", ignore_errors=True)
    stack = DevStack(args.source_root, args.state_dir, env, args.port)
    try:
        stack.run()
    except KeyboardInterrupt:
        pass
    finally:
        stopped = time.monotonic()
        stack.close()
        say("dev", "stopped: the services and the node", time.monotonic() - stopped)


if __name__ == "__main__":
    main()
