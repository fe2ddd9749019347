"""Migration 0004: breaker state (both dialects) and the shared rate budgets (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from crossdock.backbone import BreakerStatus, SqlStore
from crossdock.backbone.migrate import migrate_postgres
from crossdock.runtime.clock import ManualClock

from .conftest import Backend
from .test_migrations import LATEST, _build_at

BREAKER_VERSION = 4


def test_the_breaker_migration_is_in_both_dialects() -> None:
    assert LATEST >= BREAKER_VERSION


@pytest.mark.parametrize("version", range(BREAKER_VERSION))
async def test_every_earlier_version_upgrades_to_a_working_breaker_table(
    backend: Backend, clock: ManualClock, version: int
) -> None:
    await _build_at(backend, version)
    store: SqlStore = backend.build(clock)
    await store.start()
    try:
        assert await store.schema_version() == LATEST
        status = BreakerStatus("netsuite", state="open", opened_at=clock.now(), version=1)
        assert await store.save_breaker(status, expected_version=0)
        (stored,) = await store.list_breakers()
        assert stored.state == "open"
        assert stored.opened_at == clock.now()
        counts = await store.inbox_counts()
        if version >= 1:  # the row written at the old version is counted
            assert counts == {"shopify": {"received": 1, "claimed": 0, "decoded": 0, "dead": 0}}
        else:
            assert counts == {}
    finally:
        await store.close()


@pytest.mark.postgres
async def test_rate_budget_tables_made_by_older_code_are_kept(
    postgres_url: str, tmp_path: Path
) -> None:
    """A database where `PostgresResilience.ensure_tables()` of older code made the budget
    tables upgrades without error and keeps their rows."""
    backend = Backend("postgres", tmp_path, postgres_url)
    try:
        await _build_at(backend, BREAKER_VERSION - 1)
        async with await psycopg.AsyncConnection.connect(
            postgres_url, autocommit=True, options=f"-c search_path={backend.schema}"
        ) as conn:
            await conn.execute(
                "CREATE TABLE crossdock_rate_budget (destination text PRIMARY KEY,"
                " tokens double precision NOT NULL, capacity double precision NOT NULL,"
                " refill_per_second double precision NOT NULL,"
                " updated_at timestamptz NOT NULL,"
                " paused_until timestamptz NOT NULL DEFAULT '1970-01-01T00:00:00Z')"
            )
            await conn.execute(
                "INSERT INTO crossdock_rate_budget VALUES ('shopify:acme', 3, 40, 2, %s)",
                (datetime(2026, 1, 1, tzinfo=UTC),),
            )
            assert await migrate_postgres(conn) == LATEST
            cursor = await conn.execute("SELECT destination, tokens FROM crossdock_rate_budget")
            assert await cursor.fetchall() == [("shopify:acme", 3.0)]
            cursor = await conn.execute("SELECT count(*) FROM crossdock_rate_grants")
            assert await cursor.fetchone() == (0,)
    finally:
        backend.drop()
