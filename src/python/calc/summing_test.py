import math
import sys

import pytest

from calc.summing import MAX_RESULT_BITS, exact_sum
from domain.errors import ResultOutOfRange
from domain.schemas import SUM_EXAMPLES, SumExample


def test_integers_are_summed_exactly_at_any_size() -> None:
    big = 10**300
    assert exact_sum([big, 1, -big]) == 1
    assert exact_sum([2**64, 2**64]) == 2**65
    assert type(exact_sum([1, 2, 3])) is int


def test_floats_give_the_correctly_rounded_sum() -> None:
    assert exact_sum([1e16, 1.0, -1e16]) == 1.0
    assert exact_sum([0.1] * 10) == 1.0
    assert exact_sum([0.1, 0.2]) == math.fsum([0.1, 0.2])


def test_an_empty_list_sums_to_zero() -> None:
    assert exact_sum([]) == 0


def test_huge_integers_mixed_with_floats_keep_every_digit() -> None:
    # fsum would turn 2**80 + 1 into a float first and lose the 1.
    assert exact_sum([2**80 + 1, -(2**80), 0.5]) == 1.5
    assert exact_sum([10**400, -(10**400), 0.25]) == 0.25


def test_an_intermediate_overflow_does_not_hide_a_representable_sum() -> None:
    assert exact_sum([sys.float_info.max, sys.float_info.max, -sys.float_info.max]) == (
        sys.float_info.max
    )


def test_a_float_sum_beyond_the_float_range_is_the_nearest_integer() -> None:
    largest = int(sys.float_info.max)
    assert exact_sum([sys.float_info.max, sys.float_info.max]) == 2 * largest
    assert exact_sum([-sys.float_info.max, -sys.float_info.max]) == -2 * largest
    assert exact_sum([10**400, 1.25]) == 10**400 + 1
    assert exact_sum([10**400, 1.75]) == 10**400 + 2


def test_a_mixed_sum_too_long_to_print_is_out_of_range() -> None:
    with pytest.raises(ResultOutOfRange):
        exact_sum([2**MAX_RESULT_BITS, 0.5])


def test_an_integer_sum_too_long_to_print_is_out_of_range() -> None:
    near_limit = 2 ** (MAX_RESULT_BITS - 1)
    assert exact_sum([near_limit]) == near_limit
    with pytest.raises(ResultOutOfRange):
        exact_sum([near_limit, near_limit, near_limit])


@pytest.mark.parametrize("example", SUM_EXAMPLES, ids=lambda example: example.name)
def test_the_contracts_example_sums_are_what_calc_answers(example: SumExample) -> None:
    assert exact_sum(example.numbers) == example.result
