"""A service that ``./stack dev`` runs from source and restarts: its process, and the next
one, kept warm.

A cold start spends most of its time starting Python and importing the libraries (Nameko,
eventlet, kombu, OpenTelemetry...). So each service has a standby process beside it
(``launch.warm``) that has done that already and waits; a restart stops the running
process, tells the standby to import the service's code as it is now and run it, and
starts the next standby. A standby that has loaded a changed file itself (the launcher)
is replaced before it is used.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

STOP_TIMEOUT = 10.0
_serial = itertools.count(1)


class Standby:
    """A ``launch.warm`` process for one service: started ahead, run on `go`."""

    def __init__(
        self, name: str, python: str, env: dict[str, str], log: Path, libraries: list[str]
    ) -> None:
        self.ready_file = log.parent / f"{name}-standby-{next(_serial)}.json"
        self.ready_file.unlink(missing_ok=True)
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [python, "-m", "launch.warm", str(self.ready_file), f"{name}.main", *libraries],
                env=env,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def loaded(self) -> set[Path] | None:
        """The source files it has loaded; None until it is warm."""
        try:
            return {Path(p) for p in json.loads(self.ready_file.read_text())}
        except (OSError, ValueError):
            return None

    def go(self) -> subprocess.Popen[bytes]:
        """Run the service: it imports the service's code now. Its process."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # it died: the caller sees it exited
            self.process.stdin.write(b"go\n")
            self.process.stdin.close()
        self.ready_file.unlink(missing_ok=True)
        return self.process

    def discard(self) -> None:
        """End it, loaded or not."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        stop(self.process, signal.SIGTERM)
        self.ready_file.unlink(missing_ok=True)


def stop(process: subprocess.Popen[bytes], how: signal.Signals = signal.SIGINT) -> None:
    """Stop `process` and wait for it; SIGKILL if it takes longer than `STOP_TIMEOUT`.

    A service is stopped with SIGINT, which Nameko's runner takes as Ctrl-C: a graceful
    stop, at once. Its SIGTERM handler runs only when eventlet's hub next wakes, which can
    be seconds later on an idle service.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(how)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class DevService:
    """One service: its running process, if any, and its standby."""

    def __init__(
        self,
        name: str,
        new_standby: Callable[[], Standby],
        is_ready: Callable[[], bool],
        is_gone: Callable[[], bool],
    ) -> None:
        self.name = name
        self.new_standby = new_standby
        self.is_ready = is_ready  # it answers: its queue has a consumer, or /health says ok
        self.is_gone = is_gone  # what answered before has stopped answering
        self.standby: Standby | None = new_standby()
        self.process: subprocess.Popen[bytes] | None = None
        # What a standby loads before it is told to go (the same for every one).
        self._launcher: set[Path] = set()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def warm(self) -> bool:
        """Whether its standby has loaded what it loads ahead, and waits."""
        return self.standby is not None and self.standby.loaded() is not None

    def start(self, changed: set[Path]) -> bool:
        """Run the standby, or a fresh one where it has loaded one of the `changed` files;
        whether it was warm (else the start takes as long as a cold one, or part of it)."""
        standby = self.standby or self.new_standby()
        loaded = standby.loaded()
        self._launcher = loaded or self._launcher
        if standby.process.poll() is not None or self._launcher & changed:
            standby.discard()
            standby, loaded = self.new_standby(), None
        self.process = standby.go()
        self.standby = None
        return loaded is not None

    def prepare(self) -> None:
        """Start the next standby (once the service is up: not to slow its start)."""
        if self.standby is None:
            self.standby = self.new_standby()

    def close(self) -> None:
        self.stop()
        if self.standby is not None:
            self.standby.discard()
