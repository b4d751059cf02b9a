"""Labelled metric children, looked up once for each set of label values.

prometheus-client's ``labels()`` checks the values, takes the metric's lock and looks the
child up on every call. The services call it several times per request, always with a
few bounded label values (entrypoint and route names, outcomes, status codes), so each
child is remembered here after its first lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeVar, cast

from prometheus_client.metrics import MetricWrapperBase

Metric = TypeVar("Metric", bound=MetricWrapperBase)


def labelled(metric: Metric, *values: str) -> Metric:
    """``metric.labels(*values)``, looked up once."""
    return cast(Metric, _child(metric, values))


@lru_cache(maxsize=4096)
def _child(metric: MetricWrapperBase, values: tuple[str, ...]) -> MetricWrapperBase:
    return metric.labels(*values)
