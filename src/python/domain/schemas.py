"""The contract's data as JSON Schemas, written once for the two documents that show it:
the gateway's OpenAPI document (HTTP) and the AsyncAPI document (RPC and events).

Each keeps to what both dialects read alike (OpenAPI 3.0's schema objects, AsyncAPI's
JSON Schema draft 7): types, properties, required, items and their bounds, formats and
descriptions. The examples of sums come with the exact answer calc gives, so that both
documents show the same ones and a test can send each over the wire.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from domain.numbers import Number

Schema = dict[str, Any]

NUMBER: Schema = {"type": "number"}

SUM: Schema = {
    "type": "number",
    "description": (
        "Integers only: their exact sum. With a float: the float nearest to the exact sum,"
        " or past the largest float, the integer nearest to it."
    ),
}

LOG_ENTRY: Schema = {
    "type": "object",
    "required": ["event_id", "time", "source", "request_id", "payload"],
    "properties": {
        "event_id": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "source": {"type": "string"},
        "request_id": {"type": "string"},
        "payload": {
            "type": "object",
            "required": ["numbers", "result"],
            "properties": {
                "numbers": {"type": "array", "items": NUMBER},
                "result": NUMBER,
            },
        },
    },
}
"""One entry of the log: what ``log.recent`` returns and ``GET /logs`` lists."""


def numbers(max_items: int, min_items: int = 0) -> Schema:
    """A list of at most `max_items` numbers, as `domain.numbers.validate_numbers` takes
    it (the gateway refuses an empty one before calc would sum it to 0)."""
    return {"type": "array", "items": NUMBER, "minItems": min_items, "maxItems": max_items}


@dataclass(frozen=True)
class SumExample:
    """A sum both documents show: its numbers and the exact answer."""

    name: str
    summary: str
    numbers: list[Number]
    result: Number


SUM_EXAMPLES = (
    SumExample("exactIntegers", "Integers: their exact sum.", [10**40, 1], 10**40 + 1),
    SumExample(
        "roundedFloats",
        "With a float: the float nearest to the exact sum.",
        [0.1, 0.2],
        0.30000000000000004,
    ),
    SumExample(
        "pastTheLargestFloat",
        "Past the largest float: the integer nearest to the exact sum.",
        [sys.float_info.max, sys.float_info.max],
        2 * int(sys.float_info.max),
    ),
)


def sum_examples(max_items: int) -> tuple[SumExample, ...]:
    """The examples a service that takes at most `max_items` numbers answers."""
    return tuple(example for example in SUM_EXAMPLES if len(example.numbers) <= max_items)
