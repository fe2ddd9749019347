"""Fixtures to run budgets in virtual time with a ManualClock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from crossdock.runtime.clock import ManualClock


async def run_for(clock: ManualClock, seconds: float, *, step: float = 0.05) -> None:
    """Advance `clock` by `step` until `seconds` have passed, letting tasks run between steps."""
    end = clock.monotonic() + seconds
    while clock.monotonic() < end:
        for _ in range(20):
            await asyncio.sleep(0)
        clock.advance(step)
    for _ in range(20):
        await asyncio.sleep(0)


def max_in_any_window(times: list[float], window: float) -> int:
    """Return the most events inside any half-open interval of length `window`."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@pytest.fixture
def virtual_run() -> Callable[..., Awaitable[None]]:
    """`await virtual_run(clock, seconds, step=0.05)` advances a ManualClock step by step."""
    return run_for


@pytest.fixture
def window_max() -> Callable[[list[float], float], int]:
    """`window_max(times, window)`: the most events inside any interval of length `window`."""
    return max_in_any_window
