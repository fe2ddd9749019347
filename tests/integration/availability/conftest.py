"""Stores for the availability tests: a SQLite file, or fresh PostgreSQL schemas dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from crossdock.backbone import SqlStore
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType
from crossdock.canonical.inventory import InventoryLevel

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def level_event(
    sku: str, location: str, available: int, *, at: datetime = T0, source: str = "netsuite"
) -> Event:
    """An ``inventory.changed`` event as the ERP connector writes it."""
    level = InventoryLevel(
        sku=sku, location=location, on_hand=available, available=available, as_of=at, source=source
    )
    return Event(
        source=source,
        type=EventType.INVENTORY_CHANGED.value,
        subject=f"{sku}@{location}",
        correlationid="c-1",
        time=at,
        data=level.model_dump(mode="json"),
    )


StoreFactory = Callable[[], SqlStore]
LevelEvent = Callable[..., Event]


@pytest.fixture
def make_level() -> LevelEvent:
    """The `level_event` builder."""
    return level_event


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Open stores on one database (SQLite: one store; PostgreSQL: several pools, one schema)."""
    opened: list[SqlStore] = []
    if request.param == "sqlite":
        single = SQLiteStore(tmp_path / "hub.db")
        await single.start()
        opened.append(single)

        def sqlite_factory() -> SqlStore:
            return single

        yield sqlite_factory
        await single.close()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cdavail_{uuid.uuid4().hex[:16]}"

    def postgres_factory() -> SqlStore:
        store = PostgresStore(url, schema=schema, max_size=5)
        opened.append(store)
        return store

    try:
        yield postgres_factory
    finally:
        for store in opened:
            await store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())
