import pytest
from werkzeug.datastructures import MultiDict

from domain.errors import InvalidNumbers
from gateway.inputs import logs_limit, numbers_from_body, numbers_from_query
from web.errors import HttpError


def query(**values: str | list[str]) -> MultiDict[str, str]:
    return MultiDict(values)


def test_query_numbers_are_parsed_as_ints_and_floats() -> None:
    numbers = numbers_from_query(query(numbers="1, -2,3.5,1e3,.5"), max_items=10)
    assert numbers == [1, -2, 3.5, 1000.0, 0.5]
    assert [type(n) for n in numbers] == [int, int, float, float, float]


def test_query_integers_keep_every_digit() -> None:
    assert numbers_from_query(query(numbers=str(10**30)), max_items=10) == [10**30]


@pytest.mark.parametrize(
    "raw", ["1,,2", "nan", "inf", "-Infinity", "1e999", "0x10", "1_000", "one", "1,2,"]
)
def test_query_tokens_that_are_not_plain_finite_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidNumbers):
        numbers_from_query(query(numbers=raw), max_items=10)


def test_query_integers_longer_than_python_converts_are_refused() -> None:
    with pytest.raises(InvalidNumbers, match="too many digits"):
        numbers_from_query(query(numbers="9" * 5000), max_items=10)


@pytest.mark.parametrize("args", [{}, {"numbers": ""}, {"numbers": "  "}])
def test_missing_or_empty_query_numbers_are_a_bad_request(args: dict[str, str]) -> None:
    with pytest.raises(HttpError) as caught:
        numbers_from_query(query(**args), max_items=10)
    assert (caught.value.status, caught.value.code) == (400, "missing_numbers")


def test_too_many_query_numbers_are_refused_before_parsing() -> None:
    with pytest.raises(InvalidNumbers, match="at most 3"):
        numbers_from_query(query(numbers="1,2,3,4"), max_items=3)


def test_body_numbers_must_be_the_only_field() -> None:
    assert numbers_from_body({"numbers": [1, 2]}, max_items=10) == [1, 2]
    with pytest.raises(HttpError, match="unknown fields: extra"):
        numbers_from_body({"numbers": [1], "extra": 1}, max_items=10)


@pytest.mark.parametrize("body", [[1, 2], "numbers", None, 3])
def test_a_body_that_is_not_an_object_is_refused(body: object) -> None:
    with pytest.raises(HttpError) as caught:
        numbers_from_body(body, max_items=10)
    assert caught.value.code == "invalid_body"


@pytest.mark.parametrize("body", [{}, {"numbers": []}])
def test_a_body_without_numbers_is_refused(body: object) -> None:
    with pytest.raises(HttpError) as caught:
        numbers_from_body(body, max_items=10)
    assert caught.value.code == "missing_numbers"


def test_logs_limit_defaults_and_bounds() -> None:
    assert logs_limit(query(), 100) == 20
    assert logs_limit(query(limit="100"), 100) == 100
    for bad in ["0", "101", "-1", "x", "1.5", "9" * 5000]:
        with pytest.raises(HttpError):
            logs_limit(query(limit=bad), 100)
