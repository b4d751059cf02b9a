import pytest
from nameko.testing.services import worker_factory

from calc.service import CalcService
from domain.errors import InvalidNumbers
from runtime.config import Settings


def make_calc(max_numbers: int = 5) -> CalcService:
    return worker_factory(CalcService, settings=Settings(max_numbers=max_numbers))


def test_sum_returns_the_exact_sum() -> None:
    assert make_calc().sum([1, 2, 3]) == 6
    assert make_calc().sum([1e16, 1.0, -1e16]) == 1.0


@pytest.mark.parametrize(
    "numbers",
    [
        "1,2,3",
        None,
        [1, "2"],
        [True, 1],
        [1, None],
        [1, [2]],
        [float("nan")],
        [float("inf")],
        [1, 2, 3, 4, 5, 6],
    ],
)
def test_sum_refuses_anything_but_a_list_of_finite_numbers(numbers: object) -> None:
    with pytest.raises(InvalidNumbers):
        make_calc().sum(numbers)


def test_ping_answers() -> None:
    assert make_calc().ping() == "pong"
