"""What an ``@rpc`` method promises its callers, as data: its parameters and result as JSON
Schemas, the errors it raises, and calls with the replies they get.

The gateway serves the document of every service's methods, yet may not import calc or
log (they are its siblings): so each method's promise is stated in the contract they share
(`domain.methods`), which a test holds their entrypoints to, and the AsyncAPI document
(`messaging.asyncapi`) is made from it. `EventRoute` is the same for an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nameko.exceptions import serialize

Schema = dict[str, Any]


@dataclass(frozen=True)
class RpcExample:
    """A call by keyword arguments, and what it is answered: `result`, or `error`."""

    name: str
    summary: str
    kwargs: dict[str, Any]
    result: Any = None
    error: Exception | None = None

    def reply(self) -> dict[str, Any]:
        """The reply's body on the wire, as Nameko's responders (and ours) send it."""
        if self.error is not None:
            return {"result": None, "error": serialize(self.error)}
        return {"result": self.result, "error": None}


@dataclass(frozen=True)
class RpcMethod:
    """One ``@rpc`` method. `parameters` are in the method's order, each a JSON Schema; a
    parameter with a ``default`` in its schema may be left out. `errors` are the method's
    ``expected_exceptions``."""

    name: str
    summary: str
    parameters: dict[str, Schema]
    result: Schema
    errors: tuple[type[Exception], ...] = ()
    examples: tuple[RpcExample, ...] = field(default=())

    def required(self) -> list[str]:
        return [name for name, schema in self.parameters.items() if "default" not in schema]
