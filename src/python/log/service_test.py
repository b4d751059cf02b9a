from typing import Any

import pytest
from nameko.testing.services import worker_factory

from domain.errors import InvalidArgument
from domain.events import SumComputed
from log.service import LogService
from log.store import EntryStore
from messaging.errors import Unprocessable


def make_log() -> LogService:
    return worker_factory(LogService, store=EntryStore(":memory:"))


def event_payload() -> dict[str, Any]:
    return SumComputed.new("req-1", [1, 2, 3], 6).to_payload()


def test_a_sum_computed_event_becomes_one_entry() -> None:
    service = make_log()
    payload = event_payload()
    service.record_sum(payload)
    (entry,) = service.recent(limit=10)
    assert entry == {
        "event_id": payload["event_id"],
        "time": payload["occurred_at"],
        "source": "gateway",
        "request_id": "req-1",
        "payload": {"numbers": [1, 2, 3], "result": 6},
    }


def test_a_redelivered_event_is_recorded_once() -> None:
    service = make_log()
    payload = event_payload()
    service.record_sum(payload)
    service.record_sum(payload)
    assert len(service.recent(limit=10)) == 1


@pytest.mark.parametrize("payload", [{"numbers": [1]}, "not an object"])
def test_a_malformed_event_is_unprocessable_and_stores_nothing(payload: object) -> None:
    """Unprocessable: its handler sends it to dead-letters, never back to the queue."""
    service = make_log()
    with pytest.raises(Unprocessable):
        service.record_sum(payload)
    assert service.recent(limit=10) == []


@pytest.mark.parametrize("limit", [0, 1001, -1, "5", 2.0, True])
def test_recent_refuses_a_limit_outside_one_to_a_thousand(limit: object) -> None:
    with pytest.raises(InvalidArgument):
        make_log().recent(limit=limit)
