"""Breaker state kept in the backbone store, and the budget tables made by its migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from crossdock.backbone._sql import latest_version
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.ids import new_id
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    BreakerConfig,
    BreakerOpenError,
    BreakerRecord,
    BreakerState,
    CircuitBreaker,
)
from crossdock.runtime.resilience.postgres import (
    PostgresBreakerStateStore,
    PostgresResilience,
)
from crossdock.runtime.resilience.store_state import (
    StoreBreakerStateStore,
    record_from_status,
    status_from_record,
)

CONFIG = BreakerConfig(failure_threshold=2, open_seconds=10.0, probe_lease=20.0)


def test_a_record_survives_the_trip_through_the_store_row() -> None:
    record = BreakerRecord(
        state=BreakerState.HALF_OPEN,
        consecutive_failures=0,
        window_start=1_772_366_400.25,
        window_calls=7,
        window_failures=3,
        opened_at=1_772_366_410.5,
        probe_id="probe-1",
        probe_until=1_772_366_470.5,
        version=9,
    )
    status = status_from_record("netsuite", record)
    assert status.destination == "netsuite"
    assert status.state == "half_open"
    assert status.probe_until == datetime.fromtimestamp(1_772_366_470.5, UTC)
    assert record_from_status(status) == record
    fresh = status_from_record("x", BreakerRecord())
    assert record_from_status(fresh) == BreakerRecord()


async def test_a_breaker_on_the_sqlite_store_goes_round_the_cycle(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    async with SQLiteStore(tmp_path / "hub.db", clock=clock) as store:
        breaker = CircuitBreaker(
            "shopify:acme", store=StoreBreakerStateStore(store), config=CONFIG, clock=clock
        )
        for _ in range(CONFIG.failure_threshold):
            await breaker.record_failure(await breaker.before_call())
        with pytest.raises(BreakerOpenError):
            await breaker.before_call()
        clock.advance(CONFIG.open_seconds)
        probe = await breaker.before_call()
        assert probe.probe
        assert await breaker.state() is BreakerState.HALF_OPEN
        await breaker.record_success(probe)
        (status,) = await store.list_breakers()
        assert status.state == "closed"
        assert status.version == 4  # a failure, a failure that opens, a probe, a close


@pytest.fixture
async def schema(postgres_url: str) -> AsyncIterator[str]:
    name = f"cd_breaker_{new_id().replace('-', '')[-16:]}"
    yield name
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE".encode())


@pytest.mark.postgres
async def test_ensure_tables_applies_the_versioned_migrations(
    postgres_url: str, schema: str
) -> None:
    db = PostgresResilience(postgres_url, schema=schema)
    try:
        await db.ensure_tables()
        await db.ensure_tables()  # a second call (or a started store) changes nothing
        ((version,),) = await db.execute("SELECT max(version) FROM {schema}.schema_version", {})
        assert version == latest_version("postgres")
        tables = await db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %(s)s",
            {"s": schema},
        )
        names = {row[0] for row in tables}
        assert {"breaker_state", "crossdock_rate_budget", "crossdock_rate_grants"} <= names
        assert "crossdock_breaker_state" not in names
    finally:
        await db.aclose()


@pytest.mark.postgres
async def test_the_resilience_connection_and_the_store_see_one_breaker(
    postgres_url: str, schema: str
) -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    db = PostgresResilience(postgres_url, schema=schema)
    store = PostgresStore(postgres_url, schema=schema, clock=clock)
    await store.start()
    await db.ensure_tables()  # the store already migrated the schema: nothing to do
    try:
        worker = CircuitBreaker(
            "netsuite:1", store=PostgresBreakerStateStore(db), config=CONFIG, clock=clock
        )
        console = StoreBreakerStateStore(store)
        for _ in range(CONFIG.failure_threshold):
            await worker.record_failure(await worker.before_call())
        records = await console.records()
        assert records["netsuite:1"].state is BreakerState.OPEN
        assert records["netsuite:1"].opened_at == clock.now().timestamp()

        clock.advance(CONFIG.open_seconds)
        other = CircuitBreaker("netsuite:1", store=console, config=CONFIG, clock=clock)
        probe = await other.before_call()  # the store-side worker takes the probe ...
        with pytest.raises(BreakerOpenError):
            await worker.before_call()  # ... and the other side sees it out
        await other.record_success(probe)
        assert await worker.state() is BreakerState.CLOSED
        assert await PostgresBreakerStateStore(db).names() == ["netsuite:1"]
    finally:
        await store.close()
        await db.aclose()
