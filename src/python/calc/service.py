"""The calc service: sums over RPC."""

from __future__ import annotations

import logging

from calc.summing import exact_sum
from domain.errors import SUM_ERRORS
from domain.numbers import Number, validate_numbers
from launch import health
from messaging.rpc import rpc
from runtime.config import Settings, SettingsProvider
from runtime.request_id import RequestContext
from runtime.telemetry import Telemetry

_log = logging.getLogger(__name__)


class CalcService(health.Pingable):
    """Adds numbers exactly; refuses anything that is not a list of finite numbers."""

    name = "calc"

    settings: Settings = SettingsProvider()
    request_id: str | None = RequestContext()
    telemetry = Telemetry()

    @rpc(expected_exceptions=SUM_ERRORS)
    def sum(self, numbers: object) -> Number:
        """The exact sum of `numbers` (see `calc.summing.exact_sum`)."""
        valid = validate_numbers(numbers, self.settings.max_numbers)
        total = exact_sum(valid)
        _log.debug("summed %d numbers", len(valid))
        return total
