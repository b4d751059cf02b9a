"""What a test does when this machine lacks what it needs (a broker, an engine, a tool)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip with `reason`; fail instead where a skip would pass for a test that did not run:
    under CI (``CI=true``) and under ``./stack test`` (``REQUIRE_PREREQUISITES=1``)."""
    if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_PREREQUISITES") == "1":
        pytest.fail(f"every test must run here: {reason}")
    pytest.skip(reason)
