"""Request ids: made or checked at the HTTP edge, carried by every message after it.

The id rides in Nameko's context data (the ``nameko.request_id`` AMQP header), so it
reaches every service a request touches, and `RequestContext` binds it to the
worker's green thread so that each log line can name it.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from typing import Any

from nameko.extensions import DependencyProvider

REQUEST_ID_KEY = "request_id"
"""Key of the request id in Nameko context data."""
API_KEY_NAME_KEY = "api_key"
"""Key of the caller's API key's name (never the key) in Nameko context data."""

REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}$"
"""What a request id is: printable, header- and log-safe, and short enough to index.
Anything else a client sends is replaced, never echoed (no header or log injection)."""
_VALID_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)

_current: ContextVar[str | None] = ContextVar("request_id", default=None)
_caller: ContextVar[str | None] = ContextVar("api_key", default=None)


def new_request_id() -> str:
    """A fresh random request id."""
    return secrets.token_hex(16)


def accept_request_id(candidate: str | None) -> str:
    """The client's request id if it is safe to echo and log, else a fresh one."""
    if candidate and _VALID_REQUEST_ID.fullmatch(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    """The request id of the running worker, if it has one."""
    return _current.get()


def bind_request_id(request_id: str | None, api_key: str | None = None) -> None:
    """Make `request_id` (and the caller's API key's name) current for this green thread."""
    _current.set(request_id)
    _caller.set(api_key)


def current_api_key() -> str | None:
    """The name of the API key the current request came with, if any."""
    return _caller.get()


class RequestContext(DependencyProvider):
    """Binds each worker's request id to its green thread and injects it.

    Every green thread starts with an empty context, so a worker only ever sees
    the id of the message or request it is handling.
    """

    def worker_setup(self, worker_ctx: Any) -> None:
        bind_request_id(worker_ctx.data.get(REQUEST_ID_KEY), worker_ctx.data.get(API_KEY_NAME_KEY))

    def get_dependency(self, worker_ctx: Any) -> str | None:
        request_id: str | None = worker_ctx.data.get(REQUEST_ID_KEY)
        return request_id
