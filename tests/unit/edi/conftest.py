"""Shared fixtures for the EDI tests: fixture files and a fixed timestamp."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "edi"


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """Read a file of tests/fixtures/edi as raw bytes (line endings untouched)."""

    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


@pytest.fixture
def at() -> datetime:
    return datetime(2026, 11, 27, 5, 0)
