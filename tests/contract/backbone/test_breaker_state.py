"""Circuit-breaker state in the store: compare-and-set, one half-open probe across claimants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crossdock.backbone import BreakerStatus, SqlStore
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience.breaker import (
    BreakerConfig,
    BreakerOpenError,
    BreakerState,
    CircuitBreaker,
    Ticket,
)
from crossdock.runtime.resilience.store_state import StoreBreakerStateStore

from .conftest import Backend

CONFIG = BreakerConfig(failure_threshold=3, open_seconds=30.0, probe_lease=60.0)


@pytest.fixture
async def stores(
    backend: Backend, clock: ManualClock, store: SqlStore
) -> AsyncIterator[list[SqlStore]]:
    """Stores standing for hub processes: three on PostgreSQL, the one hub on SQLite."""
    extra: list[SqlStore] = []
    if backend.kind == "postgres":
        for _ in range(2):
            other = backend.build(clock, min_size=1, max_size=4)
            await other.start()
            extra.append(other)
    yield [store, *extra]
    for other in extra:
        await other.close()


async def test_compare_and_set_of_a_breaker_row(store: SqlStore, clock: ManualClock) -> None:
    assert await store.get_breaker("netsuite") is None
    assert await store.list_breakers() == []
    first = BreakerStatus("netsuite", consecutive_failures=1, window_calls=1, version=1)
    assert await store.save_breaker(first, expected_version=0)
    assert not await store.save_breaker(first, expected_version=0)  # the row exists now

    opened = BreakerStatus(
        "netsuite", state="open", opened_at=clock.now(), window_start=clock.now(), version=2
    )
    assert await store.save_breaker(opened, expected_version=1)
    stale = BreakerStatus("netsuite", state="closed", version=2)
    assert not await store.save_breaker(stale, expected_version=1)  # someone moved it first

    stored = await store.get_breaker("netsuite")
    assert stored is not None
    assert stored.state == "open"
    assert stored.opened_at == clock.now()
    assert stored.window_start == clock.now()
    assert stored.consecutive_failures == 0
    assert stored.probe_id is None
    assert stored.version == 2
    assert stored.updated_at == clock.now()

    await store.save_breaker(BreakerStatus("business_central", version=1), expected_version=0)
    listed = await store.list_breakers()
    assert [b.destination for b in listed] == ["business_central", "netsuite"]
    assert listed[1] == stored


async def test_a_write_must_bump_the_version(store: SqlStore) -> None:
    with pytest.raises(ValueError, match="bump the version"):
        await store.save_breaker(BreakerStatus("netsuite", version=0), expected_version=0)


async def _race(breakers: list[CircuitBreaker]) -> list[Ticket]:
    """Let every breaker ask for a call at once; return the tickets granted."""
    outcomes = await asyncio.gather(*(b.before_call() for b in breakers), return_exceptions=True)
    tickets = [o for o in outcomes if isinstance(o, Ticket)]
    refused = [o for o in outcomes if isinstance(o, BreakerOpenError)]
    assert len(tickets) + len(refused) == len(outcomes), outcomes
    return tickets


async def test_exactly_one_half_open_probe_across_concurrent_claimants(
    stores: list[SqlStore], clock: ManualClock
) -> None:
    # Every claimant is a worker with its own breaker object; on PostgreSQL they sit on three
    # stores with their own connection pools, as three hub processes would.
    breakers = [
        CircuitBreaker("netsuite:123", store=StoreBreakerStateStore(s), config=CONFIG, clock=clock)
        for s in stores
        for _ in range(12)
    ]
    for _ in range(CONFIG.failure_threshold):
        await breakers[0].record_failure(await breakers[0].before_call())
    assert await breakers[-1].state() is BreakerState.OPEN
    assert await _race(breakers) == []  # open: nobody gets through

    for round_ in range(4):
        clock.advance(CONFIG.open_seconds + 1)
        tickets = await _race(breakers)
        assert len(tickets) == 1, f"round {round_}: {len(tickets)} probes"
        assert tickets[0].probe
        assert await _race(breakers) == []  # the probe is out: everyone else waits
        for s in stores:  # every process sees the same half-open state and its holder
            (status,) = await s.list_breakers()
            assert status.state == "half_open"
            assert status.probe_id == tickets[0].id
        await breakers[5].record_failure(tickets[0])  # the probe failed: open again
        assert await breakers[-1].state() is BreakerState.OPEN

    # A probe whose worker died frees its place when its lease ends: again exactly one.
    clock.advance(CONFIG.open_seconds + 1)
    (lost,) = await _race(breakers)
    clock.advance(CONFIG.probe_lease + 1)
    (probe,) = await _race(breakers)
    assert probe.id != lost.id
    await breakers[-1].record_failure(lost)  # too late: the lost probe's verdict is ignored
    assert await breakers[0].state() is BreakerState.HALF_OPEN

    await breakers[3].record_success(probe)
    for s in stores:
        (status,) = await s.list_breakers()
        assert status.state == "closed"
        assert status.probe_id is None
    assert len(await _race(breakers)) == len(breakers)  # closed: everyone goes through


async def test_breakers_of_two_destinations_are_independent(
    store: SqlStore, clock: ManualClock
) -> None:
    shared = StoreBreakerStateStore(store)
    netsuite = CircuitBreaker("netsuite", store=shared, config=CONFIG, clock=clock)
    shopify = CircuitBreaker("shopify", store=shared, config=CONFIG, clock=clock)
    for _ in range(CONFIG.failure_threshold):
        await netsuite.record_failure(await netsuite.before_call())
    await shopify.record_failure(await shopify.before_call())
    assert await netsuite.state() is BreakerState.OPEN
    assert await shopify.state() is BreakerState.CLOSED
    assert await shared.names() == ["netsuite", "shopify"]
    records = await shared.records()
    assert records["shopify"].consecutive_failures == 1
    assert records["netsuite"].opened_at == clock.now().timestamp()
    with pytest.raises(BreakerOpenError) as refused:
        await netsuite.before_call()
    assert refused.value.retry_after == pytest.approx(CONFIG.open_seconds)
    clock.advance(timedelta(seconds=5).total_seconds())
    await shopify.record_success(await shopify.before_call())
    assert (await shared.load("shopify")).consecutive_failures == 0
