"""A PostgreSQL server of our own: Debian's binaries, its own data directory and port.

Tests start one per test module and the benchmark one per run, beside whatever cluster
the machine runs (Debian starts one on install; nothing here uses it). ``initdb`` and
``pg_ctl`` run as the ``postgres`` user when this process is root, because PostgreSQL
refuses to run as root. Stopping and starting the server again keeps its data, like a
real database restart. Connections over TCP need the superuser's password (as a
deployed server's would); the server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from devstack.waiting import free_port

BIN_DIR = Path("/usr/lib/postgresql/15/bin")
NO_SERVER = "PostgreSQL 15 is not installed (apt-get install postgresql)"
SUPERUSER = "postgres"


class NoPostgresServer(RuntimeError):
    """PostgreSQL's server binaries are not on this machine."""


def server_installed() -> bool:
    return (BIN_DIR / "pg_ctl").exists()


class PrivatePostgres:
    """One PostgreSQL server in a fresh temporary directory, on a free loopback port."""

    def __init__(self, port: int | None = None) -> None:
        if not server_installed():
            raise NoPostgresServer(NO_SERVER)
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.dir / "data"
        self.password = secrets.token_urlsafe(18)
        # The superuser's password, as a deployment hands it over (LOG_STORE_PASSWORD_FILE).
        self.password_file = self.dir / "password"
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        self._owner = _server_user()
        if self._owner is not None:
            os.chown(self.dir, self._owner.pw_uid, self._owner.pw_gid)
            self.dir.chmod(0o755)  # the password file stays its creator's
        initdb_password = self._server_readable(self.dir / "initdb-password", self.password)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth-local=trust",
            "--auth-host=scram-sha-256", f"--pwfile={initdb_password}",
        )  # fmt: skip
        initdb_password.unlink()

    def url(self, database: str = "postgres") -> str:
        """The database's URL, without the password (`password_file` holds it)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.dir} -h 127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """Stop the server, ending its sessions (``-m fast``) as an outage would."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` through the server's Unix socket (no password); its unaligned output."""
        return self._run(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.dir),
            "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql,
        )  # fmt: skip

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _server_readable(self, path: Path, text: str) -> Path:
        """`path` holding `text`, readable by the server's user alone."""
        path.write_text(text + "\n")
        if self._owner is not None:
            os.chown(path, self._owner.pw_uid, self._owner.pw_gid)
        path.chmod(0o600)
        return path

    def _run(self, tool: str, *args: str) -> str:
        command = [str(BIN_DIR / tool), *args]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.dir)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}\n{log}")
        return done.stdout


def _server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root; as root, run it as `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError:
        return None
