"""The naive baseline: the same three services the way Nameko's docs write them.

Defaults throughout: ``@http`` on Nameko's web server, ``RpcProxy`` (no deadline,
a publisher per call with confirms), ``EventDispatcher`` (confirmed, pooled), and a log
handler that appends a JSON line per event. The benchmark runs these as three
``nameko run`` processes to show what the project's plumbing is compared against, and
as one process; `BareGateway` is Nameko's HTTP alone. These are the configurations the
performance target was set against, so running them measures this machine against that
one.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http
from werkzeug.wrappers import Request


def query_numbers(request: Request) -> list[Any]:
    return [float(n) if "." in n else int(n) for n in request.args["numbers"].split(",")]


class NaiveGateway:
    name = "gateway"

    calc = RpcProxy("calc")
    dispatch = EventDispatcher()

    @http("GET", "/sum")
    def sum(self, request: Request) -> str:
        numbers = query_numbers(request)
        result = self.calc.sum(numbers)
        self.dispatch("sum_computed", {"numbers": numbers, "result": result})
        return json.dumps({"result": result})

    @http("POST", "/sum")
    def sum_post(self, request: Request) -> str:
        numbers = json.loads(request.get_data())["numbers"]
        result = self.calc.sum(numbers)
        self.dispatch("sum_computed", {"numbers": numbers, "result": result})
        return json.dumps({"result": result})


class BareGateway:
    """``GET /sum`` computed in the handler itself: no broker, no other service."""

    name = "bare"

    @http("GET", "/sum")
    def sum(self, request: Request) -> str:
        numbers = query_numbers(request)
        return json.dumps({"result": sum(numbers)})


class NaiveCalc:
    name = "calc"

    @rpc
    def sum(self, numbers: list[Any]) -> Any:
        return sum(numbers)


class NaiveLog:
    name = "log"

    @event_handler("gateway", "sum_computed")
    def record(self, payload: dict[str, Any]) -> None:
        with open(os.environ.get("NAIVE_LOG_PATH", "naive-log.jsonl"), "a") as store:
            store.write(json.dumps(payload) + "\n")
