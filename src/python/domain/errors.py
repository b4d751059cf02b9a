"""Error types that cross service boundaries.

Each error a caller may want to handle is a class with a stable ``code``, so callers
branch on types, never on message strings. The ones a service raises are registered
with Nameko's ``deserialize_to_instance``: an RPC caller (the gateway, ``nameko
shell``, a test) gets the same class back instead of a generic ``RemoteError``.
"""

from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class ConfigError(Exception):
    """A setting has a value the service cannot run with."""


class ServiceError(Exception):
    """An expected failure, with a machine-readable ``code`` and a human message."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@deserialize_to_instance
class InvalidNumbers(ServiceError):
    """The input is not a list of finite numbers within the configured limit."""

    code = "invalid_numbers"


@deserialize_to_instance
class ResultOutOfRange(ServiceError):
    """The exact result exists but cannot be represented (a float overflow, say)."""

    code = "out_of_range"


@deserialize_to_instance
class InvalidArgument(ServiceError):
    """An argument other than the numbers is out of its allowed range."""

    code = "invalid_argument"


class BrokerUnavailable(ServiceError):
    """The broker cannot be reached now; the request was not sent."""

    code = "broker_unavailable"


class ServiceUnavailable(ServiceError):
    """No queue is bound for the target service: it has never started (or was removed)."""

    code = "service_unavailable"


class CallTimeout(ServiceError):
    """The target service did not answer within the call's deadline."""

    code = "timeout"


class EventNotStored(ServiceError):
    """The broker did not confirm an event as routed and stored, so it may be lost."""

    code = "event_not_stored"
