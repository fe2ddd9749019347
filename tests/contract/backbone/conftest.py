"""Fixtures of the backbone contract suite: every test runs on SQLite and on PostgreSQL.

Each PostgreSQL test gets a fresh schema with a unique name, dropped afterwards; each SQLite
test gets a fresh file under `tmp_path`. Stores run on a `ManualClock`, so leases and
schedules move only when a test advances the clock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crossdock.backbone import SqlStore
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.runtime.clock import ManualClock

StoreFactory = Callable[..., Awaitable[SqlStore]]


class Backend:
    """Where one test's stores live: a file or a schema, and how to build stores on it."""

    def __init__(self, kind: str, tmp_path: Path, postgres_url: str | None) -> None:
        self.kind = kind
        self.path = tmp_path / "hub.db"
        self.url = postgres_url
        self.schema = f"cdtest_{uuid.uuid4().hex[:16]}"

    def build(self, clock: ManualClock, **kwargs: Any) -> SqlStore:
        if self.kind == "sqlite":
            return SQLiteStore(self.path, clock=clock, **kwargs)
        assert self.url is not None
        return PostgresStore(self.url, schema=self.schema, clock=clock, **kwargs)

    def drop(self) -> None:
        if self.kind == "postgres" and self.url is not None:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE".encode())


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The database of one test, on each backend in turn."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    chosen = Backend(request.param, tmp_path, url)
    yield chosen
    chosen.drop()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says so."""
    return ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
async def store(backend: Backend, clock: ManualClock) -> AsyncIterator[SqlStore]:
    """A started store on a fresh database."""
    built = backend.build(clock)
    await built.start()
    yield built
    await built.close()
