"""Exact sums: integers of any size exactly, floats correctly rounded.

A JSON number has no range, and integers already come back at any size: so a sum past
the largest float is answered as the nearest integer, never refused for the float's
sake. Only a sum too long to print is refused.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

from domain.errors import ResultOutOfRange
from domain.numbers import Number

# Integers whose float conversion is exact; math.fsum is exact on these and floats.
_EXACT_FLOAT_INT = 2**53

# Python refuses to print integers of more than 4300 digits (CVE-2020-10735), so a
# bigger sum could not be sent back as JSON. 14_000 bits is about 4214 digits.
MAX_RESULT_BITS = 14_000


def exact_sum(numbers: Sequence[Number]) -> Number:
    """Sum `numbers` without rounding error.

    All integers: the exact integer sum. Any float: the float nearest to the exact
    real sum (``math.fsum`` semantics, so ``[1e16, 1.0, -1e16]`` gives ``1.0``), even
    where fsum itself would overflow in between or lose digits of huge integers; past
    the largest float, where no float is near, the integer nearest to it.
    """
    integers = [n for n in numbers if type(n) is int]
    if len(integers) == len(numbers):
        return _printable(sum(integers))
    if all(isinstance(n, float) or abs(n) <= _EXACT_FLOAT_INT for n in numbers):
        try:
            result = math.fsum(numbers)
        except OverflowError:
            pass  # an intermediate partial overflowed; the exact path decides
        else:
            if math.isfinite(result):
                return result
    return _rounded_exact_sum(numbers)


def _rounded_exact_sum(numbers: Sequence[Number]) -> Number:
    exact = sum((Fraction(n) for n in numbers), Fraction(0))
    try:
        return float(exact)  # int / int true division is correctly rounded
    except OverflowError:
        return _printable(round(exact))


def _printable(total: int) -> int:
    if abs(total).bit_length() > MAX_RESULT_BITS:
        raise ResultOutOfRange("the sum has too many digits to return")
    return total
