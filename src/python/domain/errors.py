"""The errors of the sum's contract, raised by calc and log and seen by their callers.

Each is registered with Nameko's ``deserialize_to_instance``: an RPC caller (the gateway,
``nameko shell``, a test) gets the same class back instead of a generic ``RemoteError``.
"""

from __future__ import annotations

from nameko.exceptions import deserialize_to_instance

from messaging.errors import RetryLater
from runtime.errors import ServiceError


@deserialize_to_instance
class InvalidNumbers(ServiceError, code="invalid_numbers", http_status=400):
    """The input is not a list of finite numbers within the configured limit."""


@deserialize_to_instance
class ResultOutOfRange(ServiceError, code="out_of_range", http_status=400):
    """The exact result exists but cannot be returned (an integer too long to print)."""


@deserialize_to_instance
class InvalidArgument(ServiceError, code="invalid_argument", http_status=400):
    """An argument other than the numbers is out of its allowed range."""


@deserialize_to_instance
class LogStoreUnavailable(ServiceError, RetryLater, code="log_store_unavailable", http_status=503):
    """The log's database cannot be reached now: events wait in their queue, unacknowledged,
    until it is back, and the entries cannot be read meanwhile."""


SUM_ERRORS = (InvalidNumbers, ResultOutOfRange)
"""What ``calc.sum`` raises to its caller."""

RECENT_ERRORS = (InvalidArgument, LogStoreUnavailable)
"""What ``log.recent`` (and ``log.dead_letters``) raise to their caller."""
