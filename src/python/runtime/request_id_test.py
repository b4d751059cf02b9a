import pytest

from runtime.request_id import accept_request_id


def test_a_well_formed_client_id_is_kept() -> None:
    assert accept_request_id("abc-123_x.y:z") == "abc-123_x.y:z"


@pytest.mark.parametrize(
    "candidate",
    [None, "", "a" * 129, "evil\r\nX-Injected: 1", "line\nbreak", "tab\there", "-leading"],
)
def test_missing_or_unsafe_ids_are_replaced_by_a_fresh_one(candidate: str | None) -> None:
    replaced = accept_request_id(candidate)
    assert replaced != candidate
    assert len(replaced) == 32 and replaced.isalnum()
