"""Nameko's context data (request id, call id stack) as it arrives in message headers.

Outgoing headers are made by Nameko's own ``HeaderEncoder``; this is the one decoder,
for every entrypoint (``@rpc`` and ``@event_handler``) alike.
"""

from __future__ import annotations

from typing import Any

import amqp
from nameko.constants import HEADER_PREFIX

_PREFIX = f"{HEADER_PREFIX}."


def context_data(message: amqp.Message) -> dict[str, Any]:
    """The Nameko context data carried by `message`'s headers."""
    headers = message.properties.get("application_headers") or {}
    return {k[len(_PREFIX) :]: v for k, v in headers.items() if k.startswith(_PREFIX)}
