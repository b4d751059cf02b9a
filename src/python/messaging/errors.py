"""Why a call or an event did not get through: the failures of messaging itself."""

from __future__ import annotations

from runtime.errors import DeadlineExceeded, ServiceError


class MessagingError(ServiceError):
    """A failure of messaging itself; `outcome` names it in the client-side metrics."""

    outcome = "error"


class BrokerUnavailable(MessagingError, code="broker_unavailable", http_status=503):
    """The broker cannot be reached now; the request was not sent, or its answer was lost."""

    outcome = "broker_unavailable"


class ServiceUnavailable(MessagingError, code="service_unavailable", http_status=503):
    """No queue is bound for the target service: it has never started (or was removed)."""

    outcome = "unroutable"


class CallTimeout(MessagingError, DeadlineExceeded, code="timeout", http_status=504):
    """The target service did not answer within the call's deadline."""

    outcome = "timeout"


class EventNotStored(MessagingError, code="event_not_stored", http_status=503):
    """The broker did not confirm an event as routed and stored, so it may be lost:
    it returned it as unroutable, refused it (nacked), or did not answer in time."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class Unprocessable(Exception):
    """A message that can never be handled (it does not match its schema, say): an event
    handler that raises it has its event dead-lettered at once, never redelivered."""


class RetryLater(Exception):
    """A message that cannot be handled now through no fault of its own (the database it
    goes to is down): an event handler that raises it keeps the event, unacknowledged, and
    hands it to a worker again after a backoff. The event never goes back to its queue
    meanwhile, so an outage, however long, adds nothing to a quorum queue's delivery
    count and dead-letters nothing."""


CALL_ERRORS = (BrokerUnavailable, ServiceUnavailable, CallTimeout)
"""What an RPC call raises besides the errors of the method it calls."""

PUBLISH_ERRORS = (BrokerUnavailable, EventNotStored)
"""What publishing a confirmed event raises."""
