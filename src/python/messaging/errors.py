"""Why a call or an event did not get through: the failures of messaging itself."""

from __future__ import annotations

from runtime.errors import ServiceError


class BrokerUnavailable(ServiceError, code="broker_unavailable", http_status=503):
    """The broker cannot be reached now; the request was not sent, or its answer was lost."""


class ServiceUnavailable(ServiceError, code="service_unavailable", http_status=503):
    """No queue is bound for the target service: it has never started (or was removed)."""


class CallTimeout(ServiceError, code="timeout", http_status=504):
    """The target service did not answer within the call's deadline."""


class EventNotStored(ServiceError, code="event_not_stored", http_status=503):
    """The broker did not confirm an event as routed and stored, so it may be lost."""
