"""Fixtures of the order flow's system tests, and the harness they share (tests/system/_support).

The tests import the harness from here (``from .conftest import ...``).
"""

from __future__ import annotations

import os
import random

import pytest

from .._support.order_checks import RunReport  # noqa: TID252 - the harness
from .._support.order_kinds import Kind, expected_outcome, plan_kinds  # noqa: TID252
from .._support.order_run import Run, env_int, open_run  # noqa: TID252

__all__ = [
    "Kind",
    "Run",
    "RunReport",
    "check_report",
    "env_int",
    "expected_outcome",
    "open_run",
    "plan_kinds",
]


def check_report(report: RunReport) -> None:
    """Pass when every order ended right in every system; fail with the whole story otherwise."""
    report.assert_ok()


@pytest.fixture
def seed() -> int:
    """The test's random seed: CROSSDOCK_TEST_SEED when set, else a fresh one, printed."""
    value = int(os.environ.get("CROSSDOCK_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"seed={value} (rerun with CROSSDOCK_TEST_SEED={value})")
    return value
