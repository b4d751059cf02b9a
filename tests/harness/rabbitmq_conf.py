"""RabbitMQ's ``rabbitmq.conf`` format, read for the offline checks of the deployments."""

from __future__ import annotations


def conf_settings(text: str) -> dict[str, str]:
    """The ``key = value`` settings of a rabbitmq.conf, key by key."""
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}
