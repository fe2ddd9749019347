"""Budgets and breaker state shared across processes through PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import psycopg
import pytest

from crossdock.canonical.ids import new_id
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    BreakerConfig,
    BreakerOpenError,
    BreakerState,
    CircuitBreaker,
    Feedback,
    Ticket,
)
from crossdock.runtime.resilience.postgres import (
    PostgresBreakerStateStore,
    PostgresResilience,
    PostgresTokenBucket,
    PostgresWindowBudget,
)

pytestmark = pytest.mark.postgres


class CountingClock(ManualClock):
    """A ManualClock that knows how many tasks sleep on it, so a driver can wait for all."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping = 0

    async def sleep(self, seconds: float) -> None:
        self.sleeping += 1
        try:
            await super().sleep(seconds)
        finally:
            self.sleeping -= 1


async def all_asleep(clock: CountingClock, tasks: list[asyncio.Task[None]]) -> None:
    """Return once every task sleeps on the virtual clock (raise if one has died)."""
    for _ in range(5):  # let the tasks woken by the last advance resume first
        await asyncio.sleep(0)
    while clock.sleeping < len(tasks):
        for task in tasks:
            if task.done():
                task.result()
        await asyncio.sleep(0.001)  # real I/O (the database) is in flight


@pytest.fixture
async def schema(postgres_url: str) -> AsyncIterator[str]:
    name = f"cd_resilience_{new_id().replace('-', '')[-16:]}"
    yield name
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())


@pytest.fixture
async def processes(postgres_url: str, schema: str) -> AsyncIterator[list[PostgresResilience]]:
    """Two independent connections, standing for two hub processes."""
    dbs = [PostgresResilience(postgres_url, schema=schema) for _ in range(2)]
    await dbs[0].ensure_tables()
    await dbs[1].ensure_tables()
    yield dbs
    for db in dbs:
        await db.aclose()


async def test_two_processes_share_one_token_bucket(
    processes: list[PostgresResilience], window_max: Callable[[list[float], float], int]
) -> None:
    clock = CountingClock()
    buckets = [
        PostgresTokenBucket("shopify:acme", db, capacity=10, refill_rate=2, clock=clock, poll=0.5)
        for db in processes
    ]
    granted: list[float] = []
    workers_per_process, seconds = 1, 30.0  # more would queue on the bucket's local lock

    async def worker(bucket: PostgresTokenBucket) -> None:
        while True:
            permit = await bucket.acquire()
            granted.append(clock.monotonic())
            await clock.sleep(0.2)
            bucket.release(permit, Feedback(status=200))

    tasks = [asyncio.create_task(worker(b)) for b in buckets for _ in range(workers_per_process)]
    try:
        while clock.monotonic() < seconds:
            await all_asleep(clock, tasks)
            clock.advance(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    allowed = 10 + 2 * seconds
    assert len(granted) <= allowed
    assert len(granted) >= 0.9 * allowed
    assert window_max(granted, 5.0) <= 10 + 2 * 5.0


async def test_two_processes_share_one_window_and_never_exceed_it(
    processes: list[PostgresResilience], window_max: Callable[[list[float], float], int]
) -> None:
    clock = CountingClock()
    budgets = [
        PostgresWindowBudget("shipstation:key", db, limit=10, window=5, clock=clock, poll=1.0)
        for db in processes
    ]
    granted: list[float] = []
    seconds = 30.0

    async def worker(budget: PostgresWindowBudget) -> None:
        while True:
            permit = await budget.acquire()
            granted.append(clock.monotonic())
            await clock.sleep(0.1)
            budget.release(permit, Feedback(status=200))

    tasks = [asyncio.create_task(worker(b)) for b in budgets]
    try:
        while clock.monotonic() < seconds:
            await all_asleep(clock, tasks)
            for budget in budgets:
                await budget.flush()
            clock.advance(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert window_max(granted, 5.0) <= 10
    assert len(granted) >= 0.9 * 10 * seconds / 5


async def test_a_call_never_sent_frees_its_place_for_every_process(
    processes: list[PostgresResilience],
) -> None:
    clock = ManualClock()
    first, second = (
        PostgresWindowBudget("bc:prod", db, limit=1, window=300, clock=clock) for db in processes
    )
    permit = await first.acquire()
    first.release(permit, Feedback.not_sent())
    await first.flush()
    second.release(await asyncio.wait_for(second.acquire(), 5), Feedback(status=200))
    await second.flush()
    waiter = asyncio.create_task(first.acquire())
    await asyncio.sleep(0.2)
    assert not waiter.done()
    assert first.wait_time() > 250
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter


async def test_a_429_in_one_process_pauses_the_other(processes: list[PostgresResilience]) -> None:
    clock = ManualClock()
    first, second = (
        PostgresTokenBucket("bc:prod", db, capacity=5, refill_rate=1, clock=clock)
        for db in processes
    )
    first.release(await first.acquire(), Feedback(status=429, headers={"Retry-After": "30"}))
    await asyncio.wait_for(first._flushing or asyncio.sleep(0), 5)  # the pause is written
    waiter = asyncio.create_task(second.acquire())
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert not waiter.done()
    assert second.wait_time() > 20
    clock.advance(31)
    for _ in range(100):
        if waiter.done():
            break
        clock.advance(1)
        await asyncio.sleep(0.01)
    assert waiter.done()


async def test_breaker_state_is_shared_and_one_probe_runs_across_processes(
    processes: list[PostgresResilience],
) -> None:
    clock = ManualClock()
    config = BreakerConfig(failure_threshold=2, open_seconds=10)
    a, b = (
        CircuitBreaker(
            "netsuite:1234567", store=PostgresBreakerStateStore(db), config=config, clock=clock
        )
        for db in processes
    )
    await a.record_failure(await a.before_call())
    await b.record_failure(await b.before_call())
    assert await a.state() is BreakerState.OPEN
    with pytest.raises(BreakerOpenError):
        await b.before_call()
    clock.advance(10)
    results = await asyncio.gather(*(x.before_call() for x in (a, b, a, b)), return_exceptions=True)
    probes = [r for r in results if isinstance(r, Ticket)]
    assert len(probes) == 1
    assert probes[0].probe
    await (a if results.index(probes[0]) % 2 == 0 else b).record_success(probes[0])
    assert await b.state() is BreakerState.CLOSED
    assert await PostgresBreakerStateStore(processes[0]).names() == ["netsuite:1234567"]


def test_schema_names_are_checked() -> None:
    with pytest.raises(ValueError, match="schema"):
        PostgresResilience("postgresql://x", schema="drop table;")


async def test_config_builds_shared_budgets_in_postgres_mode(
    processes: list[PostgresResilience],
) -> None:
    from crossdock.governance.systems import SystemConfig
    from crossdock.runtime.resilience import CostBucket
    from crossdock.runtime.resilience.config import budget_from_config

    system = SystemConfig.model_validate(
        {
            "kind": "shipstation",
            "base_url": "https://ssapi.shipstation.com",
            "rate_budgets": {
                "api": {"kind": "window", "limit": 40, "window": "1m"},
                "rest": {"kind": "leaky_bucket", "capacity": 40, "leak_per_second": 2},
                "graphql": {"kind": "cost", "capacity": 1000, "restore_per_second": 100},
            },
        }
    )
    budgets = {
        k: budget_from_config(f"ss:{k}", v, shared=processes[0])
        for k, v in system.rate_budgets.items()
    }
    assert isinstance(budgets["api"], PostgresWindowBudget)
    assert budgets["api"].window == 60
    assert isinstance(budgets["rest"], PostgresTokenBucket)
    assert isinstance(budgets["graphql"], CostBucket)
