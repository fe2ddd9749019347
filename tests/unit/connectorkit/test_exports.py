"""The public surface: sorted `__all__`, and every name really exported."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "crossdock.connectorkit",
    "crossdock.connectorkit.http",
    "crossdock.connectorkit.auth",
    "crossdock.runtime.resilience",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=lambda n: (not n.isupper(), n))
    for member in exported:
        assert hasattr(module, member), member
