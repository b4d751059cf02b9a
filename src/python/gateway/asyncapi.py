"""The services' messaging as one AsyncAPI 3.0 document: served at ``GET /asyncapi.json``,
written to a file by ``./pants run src/python/gateway:asyncapi -- asyncapi.json``.

Made from the contract (`domain.methods` for every ``@rpc`` method of calc and log,
`domain.events` for the event and its handler), with the schemas the OpenAPI document
shows too (`domain.schemas`), and from the running settings: the broker's nodes, the RPC
exchange, the queues' arguments, the callers' deadline. The AsyncAPI wire test sends
each example with a plain AMQP client and expects the reply it shows.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

from nameko.rpc import get_rpc_exchange

from domain.events import SUM_COMPUTED, SUM_COMPUTED_EXAMPLE, SUM_COMPUTED_SCHEMA
from domain.methods import rpc_methods
from messaging.asyncapi import AsyncApiParts
from messaging.asyncapi_rpc import add_rpc_services
from runtime.config import Settings, config_from_env

DESCRIPTION = """\
Nameko 2's protocol over RabbitMQ, JSON only. To call a method, publish its call to the
RPC exchange under the routing key `<service>.<method>`, with `reply_to` and
`correlation_id`, and read the reply that comes back with the same `correlation_id`: a
result, or an error naming the exception's class. Events go to `<source>.events` under
their type. Each call example is answered by the reply example of the same name."""


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The document for services running with `settings`."""
    parts = AsyncApiParts(settings)
    exchange = get_rpc_exchange(settings.to_config()).name
    add_rpc_services(parts, exchange, rpc_methods(settings))
    # The gateway publishes each event with its event id as the message id.
    example = (SUM_COMPUTED_EXAMPLE.event_id, SUM_COMPUTED_EXAMPLE.to_payload())
    parts.add_event(SUM_COMPUTED, "SumComputed", SUM_COMPUTED_SCHEMA, example)
    info = {"title": "Sum services: calls and events", "version": "1.0.0"}
    return parts.document({**info, "description": DESCRIPTION})


def main() -> None:
    """Write the document for the settings of the environment to the file named, or stdout."""
    with warnings.catch_warnings():
        # Nameko imports eventlet, which announces its maintenance mode at import.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        settings = Settings.from_config(config_from_env())
    text = json.dumps(asyncapi_document(settings), indent=2) + "\n"
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    else:
        sys.stdout.write(text)
