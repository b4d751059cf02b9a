"""Health of a running service, as a container platform asks for it.

`Pingable` gives an RPC service a cheap ``ping`` method. `check` is what an image's
``HEALTHCHECK`` runs (``/app/pex healthcheck``): for an RPC service, a ping through the
broker within a few seconds (so the broker is reachable and the service consumes),
over one short-lived connection that it closes cleanly; for the gateway, its own
``/health`` endpoint.
"""

from __future__ import annotations

import urllib.request

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import get_rpc_exchange
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import parse_address

from amqp_client.link import AmqpLink
from messaging.link import tls_of
from messaging.rpc import RpcSession, rpc
from runtime.config import Settings

CHECK_TIMEOUT = 3.0


class Pingable:
    """Mixin for services: ``ping()`` answers at once, for health and readiness checks."""

    @rpc
    def ping(self) -> str:
        return "pong"


def serves_http(service_cls: type) -> bool:
    """True if any of the service's entrypoints is an HTTP handler."""
    return any(
        isinstance(entrypoint, HttpRequestHandler)
        for name in dir(service_cls)
        for entrypoint in getattr(getattr(service_cls, name), ENTRYPOINT_EXTENSIONS_ATTR, ())
    )


def check(service_cls: type, settings: Settings) -> bool:
    """True if the service answers its health probe in time."""
    try:
        if serves_http(service_cls):
            port = parse_address(settings.web_server_address).port
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/health", timeout=CHECK_TIMEOUT
            ) as response:
                return bool(response.status == 200)
        return _ping(service_cls.name, settings)  # type: ignore[attr-defined]
    except Exception:
        return False


def _ping(service_name: str, settings: Settings) -> bool:
    link = AmqpLink(settings.amqp_uri, heartbeat=0, tls=tls_of(settings))
    exchange = get_rpc_exchange(settings.to_config()).name
    session = RpcSession(link, exchange, caller=f"{service_name}-healthcheck")
    link.start()
    try:
        return link.wait_connected(CHECK_TIMEOUT) and (
            session.call(f"{service_name}.ping", {}, {}, CHECK_TIMEOUT) == "pong"
        )
    finally:
        link.stop()
