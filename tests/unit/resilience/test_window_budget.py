"""WindowBudget and DailyAllocation in virtual time: never over the limit, >= 90% used."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import pytest

from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import DailyAllocation, Feedback, WindowBudget


class FixedWindowServer:
    """A ShipStation-like server: `limit` per fixed window, X-Rate-Limit-* headers, else 429."""

    def __init__(self, clock: ManualClock, *, limit: int, window: float, phase: float) -> None:
        self.clock, self.limit, self.window, self.phase = clock, limit, window, phase
        self.counts: dict[int, int] = {}
        self.accepted: list[float] = []
        self.rejected = 0

    def handle(self) -> Feedback:
        now = self.clock.monotonic() + self.phase
        index = math.floor(now / self.window)
        self.counts[index] = self.counts.get(index, 0) + 1
        reset = (index + 1) * self.window - now
        remaining = max(0, self.limit - self.counts[index])
        headers = {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(math.ceil(reset)),
        }
        if self.counts[index] > self.limit:
            self.rejected += 1
            return Feedback(status=429, headers={**headers, "Retry-After": str(math.ceil(reset))})
        self.accepted.append(self.clock.monotonic())
        return Feedback(status=200, headers=headers)


VirtualRun = Callable[..., Awaitable[None]]


async def drive(
    run_for: VirtualRun,
    clock: ManualClock,
    budget: WindowBudget,
    handle: Callable[[], Feedback],
    *,
    workers: int,
    seconds: float,
    latency: float,
) -> list[float]:
    """Run `workers` callers with an endless backlog for `seconds` of virtual time."""
    granted: list[float] = []

    async def worker() -> None:
        while True:
            permit = await budget.acquire()
            granted.append(clock.monotonic())
            feedback = handle()
            await clock.sleep(latency)
            budget.release(permit, feedback)

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        await run_for(clock, seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return granted


@pytest.mark.parametrize("latency", [0.05, 0.4, 3.0])
async def test_backlog_uses_at_least_90_percent_and_never_exceeds_any_window(
    latency: float, virtual_run: VirtualRun, window_max: Callable[[list[float], float], int]
) -> None:
    clock = ManualClock()
    budget = WindowBudget("shipstation:test", limit=40, window=60, clock=clock)
    server = FixedWindowServer(clock, limit=40, window=60, phase=17.3)
    minutes = 10
    granted = await drive(
        virtual_run, clock, budget, server.handle, workers=12, seconds=minutes * 60, latency=latency
    )

    assert server.rejected == 0
    assert window_max(granted, 60) <= 40  # sliding: every window, not only aligned ones
    assert all(count <= 40 for count in server.counts.values())
    allowed = 40 * minutes
    assert len(server.accepted) >= 0.9 * allowed


async def test_business_central_sliding_window_of_five_minutes(
    virtual_run: VirtualRun, window_max: Callable[[list[float], float], int]
) -> None:
    clock = ManualClock()
    budget = WindowBudget("businesscentral:test", limit=6000, window=300, clock=clock)
    granted = await drive(
        virtual_run,
        clock,
        budget,
        lambda: Feedback(status=200),
        workers=32,
        seconds=900,
        latency=0.2,
    )
    assert window_max(granted, 300) <= 6000
    assert len(granted) >= 0.9 * 6000 * 3


async def test_no_grant_while_a_slot_still_counts_even_when_its_wait_rounds_to_zero() -> None:
    # Stepping by 0.025 s: answered at 6 steps (0.15), 46 steps later reads 1.15, where
    # `0.15 + 1.0 - 1.15 == 0.0` although `1.15 - 1.0 < 0.15`: the window has not passed yet.
    clock = ManualClock()
    budget = WindowBudget("x", limit=2, window=1.0, clock=clock)
    permits = [await budget.acquire(), await budget.acquire()]
    for _ in range(6):
        clock.advance(0.025)
    for permit in permits:
        budget.release(permit, Feedback(status=200))
    for _ in range(40):
        clock.advance(0.025)
    assert budget.used == 2
    assert budget.wait_time() > 0

    waiters = [asyncio.create_task(budget.acquire()) for _ in range(3)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)

    clock.advance(0.025)  # now both answered calls have left the window: two grants, not three
    for _ in range(20):
        await asyncio.sleep(0)
    assert [waiter.done() for waiter in waiters] == [True, True, False]
    assert budget.used == 2
    waiters[2].cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_wait_covers_every_answered_call_that_must_leave() -> None:
    clock = ManualClock()
    budget = WindowBudget("x", limit=4, window=10, clock=clock)
    for second in range(4):
        clock.advance(0 if second == 0 else 1)
        headers = {"X-Rate-Limit-Limit": "2"} if second == 3 else {}
        budget.release(await budget.acquire(), Feedback(status=200, headers=headers))
    # The server lowered the limit to 2 with four of our calls in the window: the calls
    # answered at 0, 1 and 2 s must all leave before the next one, so at 3 s the wait is 9 s.
    assert budget.used == 4
    assert budget.wait_time() == pytest.approx(2 + 10 - 3)


async def test_server_reporting_nothing_remaining_blocks_until_its_reset() -> None:
    clock = ManualClock()
    budget = WindowBudget("shipstation:shared", limit=40, window=60, clock=clock)
    permit = await budget.acquire()
    headers = {
        "X-Rate-Limit-Limit": "40",
        "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": "25",
    }
    budget.release(permit, Feedback(status=200, headers=headers))
    assert budget.wait_time() == pytest.approx(25)
    clock.advance(25)
    assert budget.wait_time() == 0


async def test_server_limit_header_is_adopted() -> None:
    budget = WindowBudget("shipstation:v2", limit=40, window=60, clock=ManualClock())
    permit = await budget.acquire()
    budget.release(permit, Feedback(status=200, headers={"x-rate-limit-limit": "200"}))
    assert budget.limit == 200


async def test_a_request_that_was_not_sent_frees_its_place() -> None:
    clock = ManualClock()
    budget = WindowBudget("x", limit=1, window=60, clock=clock)
    budget.release(await budget.acquire(), Feedback.not_sent())
    assert budget.wait_time() == 0
    budget.release(await budget.acquire(), Feedback(status=200))
    assert budget.wait_time() == pytest.approx(60)


async def test_retry_after_on_429_pauses_the_budget() -> None:
    clock = ManualClock()
    budget = WindowBudget("x", limit=100, window=60, clock=clock)
    budget.release(await budget.acquire(), Feedback(status=429, headers={"Retry-After": "7"}))
    assert budget.wait_time() == pytest.approx(7)
    assert budget.throttled == 1


async def test_daily_allocation_waits_instead_of_failing_when_used_up(
    virtual_run: VirtualRun,
) -> None:
    clock = ManualClock()
    budget = DailyAllocation("salesforce:org", limit=15_000, headroom=500, recheck=300, clock=clock)
    permit = await budget.acquire()
    budget.release(
        permit, Feedback(status=200, headers={"Sforce-Limit-Info": "api-usage=14600/15000"})
    )
    assert budget.reported_used == 14600
    wait = budget.wait_time()
    assert 0 < wait <= 86_400  # our own call leaves the rolling day first
    waiter = asyncio.create_task(budget.acquire())
    await virtual_run(clock, 10, step=1)
    assert not waiter.done()
    await virtual_run(clock, wait, step=600)
    assert waiter.done()
    budget.release(waiter.result(), Feedback(status=200))


async def test_daily_allocation_adopts_the_reported_limit() -> None:
    budget = DailyAllocation("salesforce:org", limit=1000, clock=ManualClock())
    budget.release(
        await budget.acquire(),
        Feedback(
            status=200, headers={"sforce-limit-info": "per-app-api-usage=1/2, api-usage=18/5000"}
        ),
    )
    assert (budget.limit, budget.reported_used) == (5000, 18)
    assert budget.wait_time() == 0


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        WindowBudget("x", limit=0, window=60)
    with pytest.raises(ValueError, match="cost"):
        WindowBudget("x", limit=1, window=60).wait_time(-1)
