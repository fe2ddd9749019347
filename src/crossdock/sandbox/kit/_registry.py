"""The registry of simulators: system name to the factory that makes one.

A simulator package registers itself when imported (``register("x", XSimulator)`` in its
``__init__``); `system_names` and `factory_for` import every sub-package of
``crossdock.sandbox`` once to find them, so that a new simulator needs no line here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from crossdock.sandbox.kit._scenario import Scenario
from crossdock.sandbox.kit._simulator import Simulator

SimulatorFactory = Callable[..., Simulator]
"""Called as ``factory(scenario, seed=seed)``; a `Simulator` subclass is a factory."""

# Simulators that do not register themselves, imported only when asked for.
_BUILT_IN: dict[str, str] = {
    "shopify": "crossdock.sandbox.shopify:ShopifySimulator",
    "easypost": "crossdock.sandbox.easypost:EasyPostSimulator",
    "shipstation": "crossdock.sandbox.shipstation:ShipStationSimulator",
    "edi3pl": "crossdock.sandbox.edi3pl:Edi3plSimulator",
}
_registered: dict[str, SimulatorFactory] = {}
_discovery_errors: dict[str, str] = {}
_discovered = False


class UnknownSystemError(KeyError):
    """No simulator is registered under that name."""

    def __str__(self) -> str:
        return str(self.args[0])


def register(name: str, factory: SimulatorFactory) -> None:
    """Register (or replace) the simulator factory for system ``name``."""
    _registered[name] = factory


def unregister(name: str) -> None:
    """Remove a registration made with `register` (built-ins stay)."""
    _registered.pop(name, None)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    package = importlib.import_module("crossdock.sandbox")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.ispkg or info.name == "kit" or info.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"crossdock.sandbox.{info.name}")
        except Exception as exc:  # one broken simulator must not hide the others
            _discovery_errors[info.name] = f"{type(exc).__name__}: {exc}"


def discovery_errors() -> dict[str, str]:
    """Simulator packages that failed to import during discovery, with the reason."""
    _discover()
    return dict(_discovery_errors)


def system_names() -> list[str]:
    """Every system that has a simulator, sorted."""
    _discover()
    return sorted(set(_BUILT_IN) | set(_registered))


def factory_for(name: str) -> SimulatorFactory:
    """The factory registered for ``name``.

    Raises:
        UnknownSystemError: No simulator has that name.
    """
    if name not in _registered and name not in _BUILT_IN:
        _discover()
    if name in _registered:
        return _registered[name]
    target = _BUILT_IN.get(name)
    if target is None:
        known = ", ".join(system_names())
        raise UnknownSystemError(f"no simulator named {name!r} (known: {known})")
    module_name, _, attr = target.partition(":")
    factory: SimulatorFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def create(name: str, scenario: Scenario | None = None, *, seed: int | None = None) -> Simulator:
    """Make the simulator of system ``name``."""
    return factory_for(name)(scenario, seed=seed)
