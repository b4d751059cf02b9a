"""Outgoing messages: a body and its basic properties, ready to be framed."""

from __future__ import annotations

import json
from typing import Any, Mapping, NamedTuple

# Basic.delivery_mode: a transient message lives in memory only, a persistent one is
# written to disk by a durable queue before the broker confirms it.
TRANSIENT = 1
PERSISTENT = 2


class OutgoingMessage(NamedTuple):
    """A message body and its basic properties, ready to be framed."""

    body: bytes
    properties: Mapping[str, Any]


def json_message(payload: Any, **properties: Any) -> OutgoingMessage:
    """A message with a JSON body, as Nameko's consumers expect it."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return OutgoingMessage(
        body, {"content_type": "application/json", "content_encoding": "utf-8", **properties}
    )
