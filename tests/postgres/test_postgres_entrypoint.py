"""docker/postgres-entrypoint, local/postgres:15's entrypoint, run on this machine's
PostgreSQL 15 (the image's own packages), as the image runs it: as the postgres user.

What compose, Swarm and Kubernetes rely on, as they rely on it with postgres:15: the
account and database made from the environment on a first start, a password login over
TCP, the data kept as it is on later starts, and the password kept out of the server's
environment and command line.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pg8000.native
import pytest
from pg8000.exceptions import DatabaseError

from devstack.postgres_server import NO_SERVER, server_installed
from devstack.waiting import free_port, wait_for
from harness.prerequisites import missing
from log.store.pool import is_outage

ENTRYPOINT = Path("docker/postgres-entrypoint").resolve()
PASSWORD = "pw-from-the-environment"


class Server:
    """The entrypoint running in `home` (PGDATA and the socket there), on `port`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    def start(self, **env: str) -> subprocess.Popen[str]:
        command = ["sh", str(ENTRYPOINT), "-p", str(self.port)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PGHOST": str(self.home),
                       "PGDATA": str(self.home / "data"), **env}  # fmt: skip
        with open(self.home / "out", "a") as out:
            self.process = subprocess.Popen(command, env=environment, cwd=self.home, text=True,
                                            stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        return self.process

    def connect(self, password: str) -> pg8000.native.Connection:
        return pg8000.native.Connection(
            "log", host="127.0.0.1", port=self.port, database="log", password=password
        )

    def wait_until_serving(self) -> None:
        def serving() -> bool:
            assert self.process is not None and self.process.poll() is None, self.output()
            try:
                self.connect(PASSWORD).close()
            except Exception as exc:
                if is_outage(exc):  # not listening yet, or still starting up
                    return False
                raise
            return True

        wait_for(serving, 60, "the server to accept logins")

    def server_pid(self) -> int:
        """The server's own process (under runuser, when root runs the test)."""
        return int((self.home / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.server_pid(), signal.SIGINT)  # a fast shutdown, as deployments ask
            self.process.wait(30)

    def output(self) -> str:
        return (self.home / "out").read_text(errors="replace")


@pytest.fixture
def server() -> Iterator[Server]:
    if not server_installed():
        missing(NO_SERVER)
    home = Path(tempfile.mkdtemp(prefix="postgres-entrypoint-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(home, owner.pw_uid, owner.pw_gid)
    made = Server(home)
    yield made
    made.stop()
    shutil.rmtree(home, ignore_errors=True)


def test_a_first_start_makes_the_account_and_database_from_the_environment(server: Server) -> None:
    server.start(POSTGRES_USER="log", POSTGRES_DB="log", POSTGRES_PASSWORD=PASSWORD)
    server.wait_until_serving()
    connection = server.connect(PASSWORD)
    assert connection.run("SELECT current_user, current_database()") == [["log", "log"]]
    connection.close()
    with pytest.raises(DatabaseError, match="password authentication failed"):
        server.connect("another password")
    # exec'd: the server is the process the container runs, without the password.
    server_pid = server.server_pid()
    environment = Path(f"/proc/{server_pid}/environ").read_bytes()
    command_line = Path(f"/proc/{server_pid}/cmdline").read_bytes()
    assert b"postgres" in command_line and PASSWORD.encode() not in command_line
    assert b"POSTGRES_PASSWORD" not in environment and PASSWORD.encode() not in environment


def test_a_later_start_keeps_the_data_and_the_password_it_was_made_with(server: Server) -> None:
    server.start(POSTGRES_USER="log", POSTGRES_DB="log", POSTGRES_PASSWORD=PASSWORD)
    server.wait_until_serving()
    connection = server.connect(PASSWORD)
    connection.run("CREATE TABLE kept (n int)")
    connection.run("INSERT INTO kept VALUES (7)")
    connection.close()
    server.stop()

    server.start(POSTGRES_USER="log", POSTGRES_DB="log", POSTGRES_PASSWORD="ignored now")
    server.wait_until_serving()
    assert server.connect(PASSWORD).run("SELECT n FROM kept") == [[7]]


def test_the_password_can_come_from_a_file(server: Server) -> None:
    secret = server.home / "secret"
    secret.write_text(PASSWORD)
    secret.chmod(0o644)
    server.start(POSTGRES_USER="log", POSTGRES_DB="log", POSTGRES_PASSWORD_FILE=str(secret))
    server.wait_until_serving()
    server.connect(PASSWORD).close()


def test_a_first_start_without_a_password_refuses_to_make_the_cluster(server: Server) -> None:
    process = server.start(POSTGRES_USER="log", POSTGRES_DB="log")
    assert process.wait(30) == 78
    assert "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" in server.output()
    assert not (server.home / "data").exists()
