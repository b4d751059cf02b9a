"""The calc service: sums over RPC."""

from __future__ import annotations

from nameko.rpc import rpc

from calc.summing import exact_sum
from shared.config import Settings, SettingsProvider
from shared.errors import InvalidNumbers, ResultOutOfRange
from shared.numbers import Number, validate_numbers
from shared.request_id import RequestContext


class CalcService:
    """Adds numbers exactly; refuses anything that is not a list of finite numbers."""

    name = "calc"

    settings: Settings = SettingsProvider()
    request_id: str | None = RequestContext()

    @rpc(expected_exceptions=(InvalidNumbers, ResultOutOfRange))
    def sum(self, numbers: object) -> Number:
        """The exact sum of `numbers` (see `calc.summing.exact_sum`)."""
        return exact_sum(validate_numbers(numbers, self.settings.max_numbers))

    @rpc
    def ping(self) -> str:
        """Answers at once: readiness checks call it to see the service consuming."""
        return "pong"
