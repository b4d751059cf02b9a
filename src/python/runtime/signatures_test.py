from __future__ import annotations

from typing import Any

import pytest
from nameko.exceptions import IncorrectSignature
from nameko.extensions import Entrypoint

from runtime.signatures import CheckedOncePerShape


class Service:
    def method(self, a: int, b: int = 0) -> None:
        """A method with one required and one optional argument."""


class CountingEntrypoint(Entrypoint):
    checks = 0

    def check_signature(self, args: Any, kwargs: Any) -> None:
        CountingEntrypoint.checks += 1
        super().check_signature(args, kwargs)


class Checked(CheckedOncePerShape, CountingEntrypoint):
    pass


@pytest.fixture
def entrypoint() -> Checked:
    checked = Checked()
    checked.container = type("Container", (), {"service_cls": Service})()
    checked.method_name = "method"
    CountingEntrypoint.checks = 0
    return checked


def test_a_shape_that_bound_is_not_checked_again(entrypoint: Checked) -> None:
    for value in range(5):
        entrypoint.check_signature((), {"a": value})
    entrypoint.check_signature((1,), {})
    assert CountingEntrypoint.checks == 2


def test_a_shape_that_does_not_bind_is_refused_every_time(entrypoint: Checked) -> None:
    for _ in range(2):
        with pytest.raises(IncorrectSignature):
            entrypoint.check_signature((), {"c": 1})
        with pytest.raises(IncorrectSignature):
            entrypoint.check_signature((1, 2, 3), {})
    assert CountingEntrypoint.checks == 4
