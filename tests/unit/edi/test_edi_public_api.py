"""The public surface of the EDI connector: everything exported exists, nothing twice."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module_name",
    ["crossdock.connectors.edi", "crossdock.connectors.edi.x12", "crossdock.connectors.edi.maps"],
)
def test_exported_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__all__
    assert len(exported) == len(set(exported))
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []
    assert all(not name.startswith("_") for name in exported)
