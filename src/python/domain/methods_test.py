import inspect
from typing import Any

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from calc.service import CalcService
from domain.methods import rpc_methods
from gateway.service import GatewayService
from log.service import LogService
from messaging.contract import RpcMethod
from messaging.rpc import Rpc
from runtime.config import Settings

SERVICES = (CalcService, LogService, GatewayService)


def rpc_entrypoints(service_cls: type) -> dict[str, Rpc]:
    """The service's ``@rpc`` methods (inherited ones too), by name."""
    found = {}
    for name in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, name), ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Rpc):
                found[name] = entrypoint
    return found


def promised(service_cls: type) -> dict[str, RpcMethod]:
    methods = rpc_methods(Settings()).get(service_cls.name, ())  # type: ignore[attr-defined]
    return {method.name: method for method in methods}


@pytest.mark.parametrize("service_cls", SERVICES)
def test_the_contract_names_every_rpc_method_a_service_serves_and_no_other(
    service_cls: type,
) -> None:
    assert set(rpc_entrypoints(service_cls)) == set(promised(service_cls))


@pytest.mark.parametrize("service_cls", SERVICES)
def test_each_method_takes_the_parameters_and_defaults_the_contract_states(
    service_cls: type,
) -> None:
    for name, method in promised(service_cls).items():
        signature = inspect.signature(getattr(service_cls, name))
        parameters = list(signature.parameters.values())[1:]  # after self
        defaults: dict[str, Any] = {
            p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty
        }
        assert [p.name for p in parameters] == list(method.parameters), name
        assert defaults == {
            p: s["default"] for p, s in method.parameters.items() if "default" in s
        }, name


@pytest.mark.parametrize("service_cls", SERVICES)
def test_each_method_declares_the_errors_the_contract_states(service_cls: type) -> None:
    for name, entrypoint in rpc_entrypoints(service_cls).items():
        expected = entrypoint.expected_exceptions
        declared = set(expected if isinstance(expected, tuple) else (expected,))
        assert declared == set(promised(service_cls)[name].errors), name


def test_every_example_calls_with_the_parameters_of_its_method() -> None:
    for methods in rpc_methods(Settings()).values():
        for method in methods:
            for example in method.examples:
                assert set(method.required()) <= set(example.kwargs) <= set(method.parameters)
