"""``nameko shell`` against the broker the service is configured for.

Inside a container, ``/app/pex shell`` opens Nameko's shell (``n.rpc.calc.sum([1, 2])``)
with the container's own ``AMQP_URI``, without printing its credentials.
"""

from __future__ import annotations

import sys

from nameko.cli.shell import ShellRunner, make_nameko_helper

from amqp_client.connect import connection_options, node_uris, sanitized
from messaging.link import tls_of
from runtime.config import Settings


def start(settings: Settings) -> None:
    # Nameko's own client: kombu fails over between the nodes; TLS as the services use it.
    first = node_uris(settings.amqp_uri)[0]
    tls = connection_options(first, tls_of(settings))
    config = {"AMQP_URI": settings.amqp_uri, "AMQP_SSL": tls.get("ssl"),
              "LOGIN_METHOD": tls.get("login_method")}  # fmt: skip
    banner = (
        f"Nameko shell, Python {sys.version.split()[0]}\n"
        f"Broker: {sanitized(settings.amqp_uri)}\n"
        "Try: n.rpc.calc.sum([1, 2, 3])"
    )
    helper = make_nameko_helper(config)
    try:
        ShellRunner(banner, {"n": helper}).start_shell(None)
    finally:
        helper.disconnect()
