from pathlib import Path

from log.store import EntryStore, LogEntry


def entry(event_id: str, result: int = 3) -> LogEntry:
    return LogEntry(
        event_id=event_id,
        time="2026-01-01T00:00:00.000000+00:00",
        source="gateway",
        request_id=f"req-{event_id}",
        payload={"numbers": [1, 2], "result": result},
    )


def test_recent_returns_the_newest_entries_first(tmp_path: Path) -> None:
    store = EntryStore(str(tmp_path / "log.sqlite3"))
    for n in range(5):
        assert store.append(entry(f"e{n}"))
    assert [e.event_id for e in store.recent(3)] == ["e4", "e3", "e2"]
    assert store.recent(1)[0] == entry("e4")


def test_an_event_delivered_twice_is_stored_once(tmp_path: Path) -> None:
    store = EntryStore(str(tmp_path / "log.sqlite3"))
    assert store.append(entry("same"))
    assert not store.append(entry("same"))
    assert store.count() == 1


def test_entries_survive_reopening_the_store(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "dir" / "log.sqlite3")
    store = EntryStore(path)
    store.append(entry("kept"))
    store.close()
    assert EntryStore(path).recent(10) == [entry("kept")]
