"""Real-shaped Business Central payloads for the unit tests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parents[3] / "fixtures" / "payloads" / "businesscentral"


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of a fixture file."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    """A fixture decoded with exact decimals."""
    return json.loads(fixture_bytes(name), parse_float=Decimal)
