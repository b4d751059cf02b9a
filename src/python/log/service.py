"""The log service: records every computed sum, and lists the newest records."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from domain.errors import RECENT_ERRORS, InvalidArgument, LogStoreUnavailable
from domain.events import SUM_COMPUTED, InvalidEvent, SumComputed
from domain.limits import MAX_LOG_ENTRIES
from launch import health
from log.store import EntryStoreProvider, GroupedStore, LogEntry
from messaging.dead_letters import peek, replay
from messaging.events import event_handler
from messaging.rpc import rpc
from runtime.config import Settings, SettingsProvider
from runtime.request_id import RequestContext
from runtime.telemetry import Telemetry

_log = logging.getLogger(__name__)

DUPLICATES = Counter("log_duplicate_events", "Events delivered again and stored once.")


class LogService(health.Pingable):
    """Keeps one durable entry per "sum computed" event."""

    name = "log"

    store: GroupedStore = EntryStoreProvider()
    request_id: str | None = RequestContext()
    settings: Settings = SettingsProvider()
    telemetry = Telemetry()

    @event_handler(
        SUM_COMPUTED.source,
        SUM_COMPUTED.event_type,
        requeue_on_error=True,
        dead_letters=SUM_COMPUTED.dead_letters,
        expected_exceptions=(InvalidEvent, LogStoreUnavailable),
    )
    def record_sum(self, payload: Any) -> None:
        """Store the event, then print it; the event is acked only after both.

        A failed write raises, so the event is redelivered (after a backoff, and to
        ``dead-letters`` past ``DELIVERY_LIMIT`` deliveries on quorum queues) rather than
        lost. A store that cannot be reached (`LogStoreUnavailable`) is no fault of the
        event's: it is kept unacked and tried again until the store is back, never
        redelivered meanwhile, so an outage dead-letters nothing. A payload that is not a
        valid event can never be stored: `InvalidEvent` sends it to ``dead-letters`` at once.
        """
        event = SumComputed.from_payload(payload)
        entry = LogEntry.from_sum_computed(event, source=SUM_COMPUTED.source)
        if self.store.append(entry):
            _log.info("sum computed", extra={"entry": entry.as_dict()})
        else:
            DUPLICATES.inc()
            _log.info("duplicate event %s ignored", entry.event_id)

    @rpc(expected_exceptions=RECENT_ERRORS)
    def dead_letters(self, limit: int = 20) -> list[dict[str, Any]]:
        """The oldest `limit` dead letters (1 to 1000): their queue, reason and count."""
        check_limit(limit)
        return [letter.as_dict() for letter in peek(self.settings, limit)]

    @rpc
    def replay_dead_letter(self, message_id: str) -> dict[str, Any] | None:
        """Put a dead letter back in its queue (once what failed is fixed); None if absent."""
        letter = replay(self.settings, message_id)
        return letter.as_dict() if letter is not None else None

    @rpc(expected_exceptions=RECENT_ERRORS)
    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest `limit` entries (1 to 1000), newest first."""
        check_limit(limit)
        return [entry.as_dict() for entry in self.store.recent(limit)]


def check_limit(limit: object) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LOG_ENTRIES:
        raise InvalidArgument(f"limit must be an integer from 1 to {MAX_LOG_ENTRIES}")
