"""LeakyBucket, CostBucket and ConcurrencySlots against simulated servers in virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    ConcurrencySlots,
    CostBucket,
    Feedback,
    LeakyBucket,
    RateBudget,
)

VirtualRun = Callable[..., Awaitable[None]]


class ShopifyRestServer:
    """Leaky bucket of 40 leaking 2/s, reported in X-Shopify-Shop-Api-Call-Limit."""

    def __init__(self, clock: ManualClock, *, size: int = 40, leak: float = 2.0) -> None:
        self.clock, self.size, self.leak = clock, size, leak
        self.level, self.at = 0.0, clock.monotonic()
        self.accepted = 0
        self.rejected = 0

    def handle(self, cost: float) -> Feedback:
        now = self.clock.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.leak)
        self.at = now
        if self.level + 1 > self.size:
            self.rejected += 1
            return Feedback(status=429, headers={"Retry-After": "1.0"})
        self.level += 1
        self.accepted += 1
        limit = f"{int(self.level)}/{self.size}"
        return Feedback(status=200, headers={"X-Shopify-Shop-Api-Call-Limit": limit})


class ShopifyGraphqlServer:
    """Cost bucket: requested cost is held, actual cost charged; throttleStatus in each body."""

    def __init__(self, clock: ManualClock, *, maximum: int = 1000, rate: int = 50) -> None:
        self.clock, self.maximum, self.rate = clock, maximum, rate
        self.available, self.at = float(maximum), clock.monotonic()
        self.spent = 0.0
        self.rejected = 0

    def handle(self, cost: float) -> Feedback:
        now = self.clock.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.rate)
        self.at = now
        actual: float | None = cost * 0.6
        if cost > self.available:
            self.rejected += 1
            actual = None
        else:
            self.available -= actual
            self.spent += actual
        status = {
            "maximumAvailable": Decimal(self.maximum),
            "currentlyAvailable": int(self.available),
            "restoreRate": Decimal(f"{self.rate}.0"),
        }
        body: dict[str, Any] = {
            "extensions": {
                "cost": {
                    "requestedQueryCost": cost,
                    "actualQueryCost": actual,
                    "throttleStatus": status,
                }
            }
        }
        if actual is None:
            body["errors"] = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
        return Feedback(status=200, body=body)


async def backlog(
    run_for: VirtualRun,
    clock: ManualClock,
    budget: RateBudget,
    handle: Callable[[float], Feedback],
    *,
    cost: float,
    workers: int,
    seconds: float,
    latency: float,
) -> None:
    async def worker() -> None:
        while True:
            permit = await budget.acquire(cost)
            feedback = handle(cost)
            await clock.sleep(latency)
            budget.release(permit, feedback)

    tasks = [asyncio.create_task(worker()) for _ in range(workers)]
    try:
        await run_for(clock, seconds)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_leaky_bucket_keeps_shopify_rest_below_its_limit_at_full_rate(
    virtual_run: VirtualRun,
) -> None:
    clock = ManualClock()
    budget = LeakyBucket("shopify:rest", capacity=40, leak_rate=2, clock=clock)
    server = ShopifyRestServer(clock)
    await backlog(
        virtual_run, clock, budget, server.handle, cost=1, workers=16, seconds=120, latency=0.3
    )
    assert server.rejected == 0
    assert server.accepted >= 0.9 * (40 + 2 * 120)


async def test_leaky_bucket_learns_the_level_from_the_header() -> None:
    clock = ManualClock()
    budget = LeakyBucket("shopify:rest", clock=clock)
    permit = await budget.acquire()
    headers = {"x-shopify-shop-api-call-limit": "39/40"}
    budget.release(permit, Feedback(status=200, headers=headers))
    assert budget.level == 39
    assert budget.wait_time() == 0
    await budget.acquire()
    assert budget.wait_time() == pytest.approx(0.5)


async def test_leaky_bucket_adopts_a_larger_plus_bucket() -> None:
    budget = LeakyBucket("shopify:plus", clock=ManualClock())
    permit = await budget.acquire()
    budget.release(permit, Feedback(status=200, headers={"X-Shopify-Shop-Api-Call-Limit": "1/400"}))
    assert budget.capacity == 400


async def test_cost_bucket_follows_throttle_status_and_never_gets_throttled(
    virtual_run: VirtualRun,
) -> None:
    clock = ManualClock()
    budget = CostBucket("shopify:graphql", maximum=1000, restore_rate=50, clock=clock)
    server = ShopifyGraphqlServer(clock, maximum=1000, rate=50)
    seconds = 120
    await backlog(
        virtual_run, clock, budget, server.handle, cost=100, workers=8, seconds=seconds, latency=0.2
    )
    assert server.rejected == 0
    assert server.spent >= 0.9 * (1000 + 50 * seconds) * 0.6


async def test_cost_bucket_refunds_the_unused_part_of_the_requested_cost() -> None:
    clock = ManualClock()
    budget = CostBucket("shopify:graphql", maximum=1000, restore_rate=50, clock=clock)
    permit = await budget.acquire(300)
    assert budget.available == 700
    body = {"extensions": {"cost": {"requestedQueryCost": 300, "actualQueryCost": 12}}}
    budget.release(permit, Feedback(status=200, body=body))
    assert budget.available == 988


def test_cost_bucket_refuses_a_query_that_can_never_fit() -> None:
    with pytest.raises(ValueError, match="never fit"):
        CostBucket("shopify:graphql", maximum=1000).wait_time(1001)


async def test_concurrency_slots_cap_calls_in_flight(virtual_run: VirtualRun) -> None:
    clock = ManualClock()
    budget = ConcurrencySlots("netsuite:acct", limit=15, clock=clock)
    in_flight, peak, done = 0, 0, 0

    def handle(cost: float) -> Feedback:
        nonlocal in_flight, peak, done
        in_flight += 1
        peak = max(peak, in_flight)
        done += 1
        return Feedback(status=204)

    async def worker() -> None:
        nonlocal in_flight
        while True:
            permit = await budget.acquire()
            feedback = handle(1)
            await clock.sleep(0.5)
            in_flight -= 1
            budget.release(permit, feedback)

    tasks = [asyncio.create_task(worker()) for _ in range(40)]
    await virtual_run(clock, 10)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 15
    assert done >= 0.9 * 15 * (10 / 0.5)


async def test_concurrency_slots_resize_wakes_waiters() -> None:
    budget = ConcurrencySlots("netsuite:acct", limit=1, clock=ManualClock())
    first = await budget.acquire()
    waiter = asyncio.create_task(budget.acquire())
    await asyncio.sleep(0)
    assert not waiter.done()
    budget.resize(2)
    second = await asyncio.wait_for(waiter, 1)
    assert budget.in_use == 2
    budget.release(first, Feedback(status=204))
    budget.release(second, Feedback(status=204))
    assert budget.in_use == 0
