import pytest

from domain.errors import InvalidNumbers
from domain.numbers import validate_numbers


def test_a_list_of_finite_numbers_is_accepted_as_is() -> None:
    numbers = [1, -2, 3.5, 10**50]
    assert validate_numbers(numbers, max_items=10) is numbers


@pytest.mark.parametrize(
    "value, message",
    [
        ({"a": 1}, "must be a list, got an object"),
        ("1,2", "must be a list, got a string"),
        ([1, True], "numbers[1] must be a number, got a boolean"),
        ([None], "numbers[0] must be a number, got null"),
        ([[1]], "numbers[0] must be a number, got a list"),
        (["1"], "numbers[0] must be a number, got a string"),
        ([float("-inf")], "numbers[0] must be finite"),
        ([1, 2, 3], "at most 2 numbers are allowed, got 3"),
    ],
)
def test_invalid_input_is_refused_with_a_message_that_says_why(value: object, message: str) -> None:
    with pytest.raises(InvalidNumbers, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_numbers(value, max_items=2)
