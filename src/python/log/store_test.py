from pathlib import Path

from harness.log_entries import stored_entry
from log.store import EntryStore


def test_recent_returns_the_newest_entries_first(tmp_path: Path) -> None:
    store = EntryStore(str(tmp_path / "log.sqlite3"))
    for n in range(5):
        assert store.append(stored_entry(f"e{n}"))
    assert [e.event_id for e in store.recent(3)] == ["e4", "e3", "e2"]
    assert store.recent(1)[0] == stored_entry("e4")


def test_an_event_delivered_twice_is_stored_once(tmp_path: Path) -> None:
    store = EntryStore(str(tmp_path / "log.sqlite3"))
    assert store.append(stored_entry("same"))
    assert not store.append(stored_entry("same"))
    assert store.count() == 1


def test_entries_survive_reopening_the_store(tmp_path: Path) -> None:
    path = str(tmp_path / "nested" / "dir" / "log.sqlite3")
    store = EntryStore(path)
    store.append(stored_entry("kept"))
    store.close()
    assert EntryStore(path).recent(10) == [stored_entry("kept")]
