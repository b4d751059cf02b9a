"""``nameko shell`` against the broker the service is configured for.

Inside a container, ``/app/pex shell`` opens Nameko's shell (``n.rpc.calc.sum([1, 2])``)
with the container's own ``AMQP_URI``, without printing its credentials.
"""

from __future__ import annotations

import sys

from nameko.cli.shell import ShellRunner, make_nameko_helper

from amqp_client.connect import sanitized
from runtime.config import Settings


def start(settings: Settings) -> None:
    config = {"AMQP_URI": settings.amqp_uri}
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
