"""Property: whatever the limit, window, latencies and workers, no window holds more than the
limit, where the server counts each call at any instant between its grant and its response."""

from __future__ import annotations

import asyncio
import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import Feedback, WindowBudget


async def _simulate(
    limit: int, window: float, workers: int, seed: int, max_latency: float
) -> tuple[list[float], int, int]:
    clock = ManualClock()
    budget = WindowBudget("p", limit=limit, window=window, clock=clock)
    rng = random.Random(seed)
    arrivals: list[float] = []
    sent = 0
    most_used = 0

    async def worker() -> None:
        nonlocal sent, most_used
        while True:
            permit = await budget.acquire()
            most_used = max(most_used, budget.used)
            latency = rng.uniform(0.0, max_latency)
            # The server counts the call somewhere between the grant and the response.
            arrivals.append(clock.monotonic() + rng.uniform(0.0, latency))
            sent += 1
            await clock.sleep(latency)
            budget.release(permit, Feedback(status=200))

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    step = window / 40
    for _ in range(40 * 4):  # four windows of virtual time
        for _ in range(10):
            await asyncio.sleep(0)
        clock.advance(step)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return arrivals, sent, most_used


def _max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=25, deadline=None)
# Once granted two calls for one slot: a wait computed as 0.0 by rounding while the slot still
# counted (test_window_budget.py has the exact instant).
@example(limit=3, window=1.0, workers=3, seed=3, latency_share=0.21875)
@given(
    limit=st.integers(min_value=1, max_value=30),
    window=st.sampled_from([1.0, 10.0, 60.0]),
    workers=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=2**32),
    latency_share=st.floats(min_value=0.0, max_value=0.5),
)
def test_no_server_window_ever_holds_more_than_the_limit(
    limit: int, window: float, workers: int, seed: int, latency_share: float
) -> None:
    arrivals, sent, most_used = asyncio.run(
        _simulate(limit, window, workers, seed, window * latency_share)
    )
    assert sent > 0
    assert most_used <= limit  # the budget's own count, right after each grant
    assert _max_in_window(arrivals, window) <= limit
