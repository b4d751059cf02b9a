"""Turning HTTP input into arguments: numbers from a query string or a JSON body."""

from __future__ import annotations

import math
import re
from typing import Any

from werkzeug.datastructures import MultiDict

from domain.errors import InvalidNumbers
from domain.numbers import Number, validate_numbers
from web.errors import ErrorKind, HttpError, kind_of

MISSING_NUMBERS = ErrorKind(400, "missing_numbers")
INVALID_BODY = ErrorKind(400, "invalid_body")
INVALID_LIMIT = ErrorKind(400, "invalid_limit")
QUERY_ERRORS = (MISSING_NUMBERS, kind_of(InvalidNumbers))
"""What `numbers_from_query` raises."""
BODY_ERRORS = (INVALID_BODY, MISSING_NUMBERS, kind_of(InvalidNumbers))
"""What `numbers_from_body` raises."""
LIMIT_ERRORS = (INVALID_LIMIT,)
"""What `logs_limit` raises."""

# Plain decimal notation only: no "nan", "inf", hex, or Python's "1_000".
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")

DEFAULT_LOGS_LIMIT = 20


def numbers_from_query(args: MultiDict[str, str], max_items: int) -> list[Number]:
    """``?numbers=1,2.5,-3`` as a list of numbers."""
    values = args.getlist("numbers")
    if not values:
        raise HttpError(MISSING_NUMBERS, "give the numbers as ?numbers=1,2,3")
    if len(values) > 1:
        raise InvalidNumbers("give ?numbers= once, comma-separated")
    text = values[0].strip()
    if not text:
        raise HttpError(MISSING_NUMBERS, "numbers must not be empty")
    tokens = text.split(",")
    if len(tokens) > max_items:
        raise InvalidNumbers(f"at most {max_items} numbers are allowed, got {len(tokens)}")
    return [_parse_number(index, token.strip()) for index, token in enumerate(tokens)]


def numbers_from_body(body: Any, max_items: int) -> list[Number]:
    """``{"numbers": [1, 2.5, -3]}`` as a list of numbers."""
    if not isinstance(body, dict):
        raise HttpError(INVALID_BODY, 'send a JSON object like {"numbers": [1, 2, 3]}')
    unknown = sorted(set(body) - {"numbers"})
    if unknown:
        raise HttpError(INVALID_BODY, f"unknown fields: {', '.join(unknown)}")
    if "numbers" not in body:
        raise HttpError(MISSING_NUMBERS, 'the body needs a "numbers" list')
    numbers = validate_numbers(body["numbers"], max_items)
    if not numbers:
        raise HttpError(MISSING_NUMBERS, "numbers must not be empty")
    return numbers


def logs_limit(args: MultiDict[str, str], max_limit: int) -> int:
    """``?limit=N`` for ``/logs``, from 1 to `max_limit`."""
    raw = args.get("limit")
    if raw is None:
        return DEFAULT_LOGS_LIMIT
    if not _INTEGER.fullmatch(raw) or len(raw) > 9 or not 1 <= int(raw) <= max_limit:
        raise HttpError(INVALID_LIMIT, f"limit must be an integer from 1 to {max_limit}")
    return int(raw)


def _parse_number(index: int, token: str) -> Number:
    try:
        if _INTEGER.fullmatch(token):
            return int(token)
        if _DECIMAL.fullmatch(token):
            value = float(token)
            if math.isfinite(value):
                return value
            raise InvalidNumbers(f"numbers[{index}] must be finite")
    except ValueError:
        # int() refuses integers of more digits than Python will convert.
        raise InvalidNumbers(f"numbers[{index}] has too many digits") from None
    raise InvalidNumbers(f"numbers[{index}] is not a number")
