"""Real-shaped ShipStation payloads (tests/fixtures/payloads/shipstation)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parents[3] / "fixtures" / "payloads" / "shipstation"


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture
def raw_payload() -> Callable[[str], bytes]:
    """The bytes of a fixture file."""
    return _raw


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """A fixture file decoded with exact decimals."""
    return lambda name: json.loads(_raw(name), parse_float=Decimal)
