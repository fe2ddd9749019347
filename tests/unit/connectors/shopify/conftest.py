"""Shared helpers for the Shopify connector unit tests: fixtures of the real wire shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crossdock.canonical.money import decimal_json_loads

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "shopify"


def raw(name: str) -> bytes:
    """The fixture's bytes exactly as stored (what a webhook body would be)."""
    return (PAYLOADS / name).read_bytes()


def load(name: str) -> dict[str, Any]:
    """The fixture decoded with exact decimals."""
    data: dict[str, Any] = decimal_json_loads(raw(name))
    return data
