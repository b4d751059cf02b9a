"""What counts as a list of numbers, checked the same way at every entry point.

The gateway checks before it spends an RPC call; `calc` checks again because its
RPC method is public (``nameko shell`` users call it directly).
"""

from __future__ import annotations

import math
from typing import Union

from domain.errors import InvalidNumbers

Number = Union[int, float]


def validate_numbers(value: object, max_items: int) -> list[Number]:
    """Return `value` if it is a list of at most `max_items` finite numbers.

    Booleans are refused although Python treats them as integers: in JSON ``true``
    is not a number, and summing it silently would hide a client's bug.
    """
    if not isinstance(value, list):
        raise InvalidNumbers(f"numbers must be a list, got {_type_name(value)}")
    if len(value) > max_items:
        raise InvalidNumbers(f"at most {max_items} numbers are allowed, got {len(value)}")
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise InvalidNumbers(f"numbers[{index}] must be a number, got {_type_name(item)}")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidNumbers(f"numbers[{index}] must be finite, got {item}")
    return value


def _type_name(value: object) -> str:
    names = {
        type(None): "null",
        bool: "a boolean",
        str: "a string",
        list: "a list",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)
