"""The naive baseline: the same three services the way Nameko's docs write them.

Defaults throughout: ``@http`` on Nameko's web server, ``RpcProxy`` (no deadline,
a publisher per call with confirms), ``EventDispatcher`` (confirmed, pooled), and a log
handler that appends a JSON line per event. The benchmark runs these as three
``nameko run`` processes to show what the project's plumbing is compared against.
"""

from __future__ import annotations

import json
import os
from typing import Any

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http
from werkzeug.wrappers import Request


class NaiveGateway:
    name = "gateway"

    calc = RpcProxy("calc")
    dispatch = EventDispatcher()

    @http("GET", "/sum")
    def sum(self, request: Request) -> str:
        numbers = [float(n) if "." in n else int(n) for n in request.args["numbers"].split(",")]
        result = self.calc.sum(numbers)
        self.dispatch("sum_computed", {"numbers": numbers, "result": result})
        return json.dumps({"result": result})

    @http("POST", "/sum")
    def sum_post(self, request: Request) -> str:
        numbers = json.loads(request.get_data())["numbers"]
        result = self.calc.sum(numbers)
        self.dispatch("sum_computed", {"numbers": numbers, "result": result})
        return json.dumps({"result": result})


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
