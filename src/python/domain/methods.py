"""The RPC methods calc and log serve, as their callers may rely on them.

Stated here, in the contract, because the gateway serves their AsyncAPI document and may
not import calc or log; ``methods_test`` holds each service's ``@rpc`` entrypoints to it
(names, parameters and their defaults, declared errors), and the AsyncAPI wire test sends
each example to the running services and expects the reply it shows.
"""

from __future__ import annotations

from domain.errors import RECENT_ERRORS, SUM_ERRORS, InvalidArgument, InvalidNumbers
from domain.events import SUM_COMPUTED, SUM_COMPUTED_EXAMPLE
from domain.limits import MAX_LOG_ENTRIES
from domain.schemas import LOG_ENTRY, SUM, numbers, sum_examples
from messaging import dead_letters
from messaging.contract import RpcExample, RpcMethod
from runtime.config import Settings

PING = RpcMethod(
    "ping",
    "Answers at once: the health and readiness checks call it.",
    parameters={},
    result={"type": "string", "enum": ["pong"]},
    examples=(RpcExample("pong", "Always the same answer.", {}, result="pong"),),
)

_LIMIT = {"type": "integer", "minimum": 1, "maximum": MAX_LOG_ENTRIES, "default": 20}
_INVALID_LIMIT = RpcExample(
    "invalidLimit",
    "A limit out of range.",
    {"limit": 0},
    error=InvalidArgument(f"limit must be an integer from 1 to {MAX_LOG_ENTRIES}"),
)
# The entry log keeps of the contract's example event.
_EXAMPLE_ENTRY = {
    "event_id": SUM_COMPUTED_EXAMPLE.event_id,
    "time": SUM_COMPUTED_EXAMPLE.occurred_at,
    "source": SUM_COMPUTED.source,
    "request_id": SUM_COMPUTED_EXAMPLE.request_id,
    "payload": {"numbers": SUM_COMPUTED_EXAMPLE.numbers, "result": SUM_COMPUTED_EXAMPLE.result},
}

RECENT = RpcMethod(
    "recent",
    "The newest log entries, newest first.",
    parameters={"limit": _LIMIT},
    result={"type": "array", "items": LOG_ENTRY, "maxItems": MAX_LOG_ENTRIES},
    errors=RECENT_ERRORS,
    examples=(
        RpcExample(
            "newestEntry",
            "Once the sum_computed example event is recorded, and no later one.",
            {"limit": 1},
            result=[_EXAMPLE_ENTRY],
        ),
        _INVALID_LIMIT,
    ),
)

DEAD_LETTERS = RpcMethod(
    "dead_letters",
    "The oldest dead letters, left where they are: their queue, reason and count.",
    parameters={"limit": _LIMIT},
    result={"type": "array", "items": dead_letters.SCHEMA, "maxItems": MAX_LOG_ENTRIES},
    errors=RECENT_ERRORS,
    examples=(
        RpcExample("noDeadLetters", "While every event has been stored.", {}, result=[]),
        _INVALID_LIMIT,
    ),
)

REPLAY_DEAD_LETTER = RpcMethod(
    "replay_dead_letter",
    "Puts a dead letter back in its queue (once what failed is fixed); null if absent.",
    parameters={"message_id": {"type": "string"}},
    result={"oneOf": [dead_letters.SCHEMA, {"type": "null"}]},
    examples=(
        RpcExample("absent", "No dead letter has this id.", {"message_id": "none"}, result=None),
    ),
)


def sum_method(settings: Settings) -> RpcMethod:
    """``calc.sum`` with the limit `settings` give calc."""
    return RpcMethod(
        "sum",
        "The exact sum of a list of finite numbers.",
        parameters={"numbers": numbers(settings.max_numbers)},
        result=SUM,
        errors=SUM_ERRORS,
        examples=(
            *(
                RpcExample(e.name, e.summary, {"numbers": e.numbers}, result=e.result)
                for e in sum_examples(settings.max_numbers)
            ),
            RpcExample(
                "notANumber",
                "A string for a number.",
                {"numbers": ["1"]},
                error=InvalidNumbers("numbers[0] must be a number, got a string"),
            ),
        ),
    )


def rpc_methods(settings: Settings) -> dict[str, tuple[RpcMethod, ...]]:
    """Each service's ``@rpc`` methods, by service name."""
    return {
        "calc": (sum_method(settings), PING),
        "log": (RECENT, DEAD_LETTERS, REPLAY_DEAD_LETTER, PING),
    }
