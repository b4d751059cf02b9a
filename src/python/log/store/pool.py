"""A few PostgreSQL connections shared by a process's green threads.

pg8000 is pure Python: once eventlet has patched the standard library (as every service
process does before it imports anything else), its sockets are green ones, and a green
thread waiting on the database lets every other one run. A pool of `size` connections
bounds what one ``log`` process asks of the database; each connection serves one green
thread at a time.

Which failures are an outage rather than a bug: the network (pg8000's `InterfaceError`,
or an `OSError`), and the server's connection (08), resource (53), operator (57:
shutting down, restarting) and transaction-rollback (40) classes of SQLSTATE. Those
become `LogStoreUnavailable`; any other error is raised as it is.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from eventlet.semaphore import Semaphore
from pg8000.exceptions import DatabaseError, InterfaceError
from pg8000.native import Connection

from domain.errors import LogStoreUnavailable

T = TypeVar("T")

_log = logging.getLogger(__name__)

OUTAGE_SQLSTATE_CLASSES = ("08", "40", "53", "57")
UNAVAILABLE = "the log store is unavailable now; try again later"


def is_outage(exc: BaseException) -> bool:
    """True if `exc` says the database cannot serve now, not that the query is wrong."""
    if isinstance(exc, (InterfaceError, OSError)):
        return True
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return str(exc.args[0].get("C", "")).startswith(OUTAGE_SQLSTATE_CLASSES)
    return False


class ConnectionPool:
    """Up to `size` connections made by `connect`, opened when first needed.

    `where` names the database in log lines, without its password.
    """

    def __init__(self, connect: Callable[[], Connection], size: int, where: str) -> None:
        self._connect = connect
        self._slots = Semaphore(size)
        self._idle: list[Connection] = []
        self._where = where
        self._reachable = True
        self._closed = False

    def run(self, work: Callable[[Connection], T]) -> T:
        """`work` on a connection of the pool; `LogStoreUnavailable` in an outage.

        A connection that sat idle may have died with a database restart (and every
        other idle one with it): `work` is then tried once more on a new connection, so
        it must be safe to repeat (each of the store's transactions is).
        """
        with self._slots:
            try:
                if self._idle:
                    try:
                        return self._attempt(self._idle.pop(), work)
                    except Exception as exc:
                        if not is_outage(exc):
                            raise
                        self._discard_idle()
                return self._attempt(self._connect(), work)
            except Exception as exc:
                if is_outage(exc):
                    raise self._unavailable(exc) from exc
                raise

    def _attempt(self, connection: Connection, work: Callable[[Connection], T]) -> T:
        try:
            result = work(connection)
        except BaseException:
            # Whatever state it is in (an aborted transaction, a dead socket), not reused.
            _close(connection)
            raise
        if self._closed:
            _close(connection)
        else:
            self._idle.append(connection)
        if not self._reachable:
            self._reachable = True
            _log.warning("the log store at %s is reachable again", self._where)
        return result

    def _unavailable(self, exc: BaseException) -> LogStoreUnavailable:
        if self._reachable:
            self._reachable = False
            _log.warning(
                "the log store at %s is unavailable (%s: %s); events wait in the queue",
                self._where, type(exc).__name__, exc,
            )  # fmt: skip
        return LogStoreUnavailable(UNAVAILABLE)

    def _discard_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            _close(connection)

    def close(self) -> None:
        """Close the idle connections; those in use close as their work ends."""
        self._closed = True
        self._discard_idle()


def _close(connection: Connection) -> None:
    try:
        connection.close()
    except Exception:  # it is being dropped either way
        pass
