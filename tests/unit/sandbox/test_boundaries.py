"""Simulators are independent evidence: they never import the connectors they are tested against."""

from __future__ import annotations

import ast
from pathlib import Path

import crossdock.sandbox
import crossdock.sandbox.kit
import crossdock.sandbox.shopify

SANDBOX = Path(crossdock.sandbox.__file__).parent
# The kit and the simulators built with this test file; other simulators carry their own checks.
CHECKED = ("kit", "shopify")
FORBIDDEN = ("crossdock.connectors", "crossdock.connectorkit", "crossdock.flows", "crossdock.api")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_simulator_imports_a_connector_or_a_flow() -> None:
    offenders = {
        str(path.relative_to(SANDBOX)): sorted(
            name for name in _imports(path) if name.startswith(FORBIDDEN)
        )
        for package in CHECKED
        for path in (SANDBOX / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_kit_knows_no_particular_simulator() -> None:
    kit = SANDBOX / "kit"
    for path in kit.rglob("*.py"):
        systems = [
            n
            for n in _imports(path)
            if n.startswith("crossdock.sandbox.") and not n.startswith("crossdock.sandbox.kit")
        ]
        assert systems == [], path.name


def test_public_surfaces_are_unique_and_importable() -> None:
    for module in (crossdock.sandbox.kit, crossdock.sandbox.shopify):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None
