"""Migrations: a database at every earlier version upgrades to the latest and keeps its data."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
import pytest

from crossdock.backbone import Delivery, MigrationError, SqlStore
from crossdock.backbone._sql import latest_version
from crossdock.backbone.migrate import migrate_postgres, migrate_sqlite
from crossdock.runtime.clock import ManualClock

from .conftest import Backend

LATEST = latest_version("sqlite")
_ROWS: list[tuple[str, tuple[Any, ...]]] = [
    (
        "INSERT INTO inbox (source, dedupe_key, headers, body, correlation_id, received_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        ("shopify", "old-delivery", "{}", b"old bytes", "corr-old", 1.0e9),
    ),
    (
        "INSERT INTO commands (idempotency_key, destination, kind, payload, max_attempts,"
        " enqueued_at, not_before) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("old-command", "netsuite", "sales_order.create", '{"n": 1}', 5, 1.0e9, 1.0e9),
    ),
    (
        "INSERT INTO links (canonical_id, system, external_id, created_at) VALUES (?, ?, ?, ?)",
        ("cust-old", "salesforce", "003OLD", 1.0e9),
    ),
]


def test_both_dialects_have_the_same_number_of_migrations() -> None:
    assert latest_version("sqlite") == latest_version("postgres") >= 2


async def _build_at(backend: Backend, version: int) -> None:
    if backend.kind == "sqlite":
        conn = sqlite3.connect(backend.path, isolation_level=None)
        try:
            assert migrate_sqlite(conn, version) == version
            if version >= 1:
                for sql, params in _ROWS:
                    conn.execute(sql, params)
        finally:
            conn.close()
        return
    assert backend.url is not None
    async with await psycopg.AsyncConnection.connect(
        backend.url, autocommit=True, options=f"-c search_path={backend.schema}"
    ) as conn:
        await conn.execute(f"CREATE SCHEMA {backend.schema}".encode())
        assert await migrate_postgres(conn, version) == version
        if version >= 1:
            for sql, params in _ROWS:
                await conn.execute(sql.replace("?", "%s").encode(), params)


@pytest.mark.parametrize("version", range(LATEST))
async def test_upgrading_from_an_earlier_version_keeps_the_data(
    backend: Backend, clock: ManualClock, version: int
) -> None:
    await _build_at(backend, version)
    store: SqlStore = backend.build(clock)
    await store.start()
    try:
        assert await store.schema_version() == LATEST
        if version >= 1:
            again = await store.record_delivery(Delivery("shopify", "old-delivery", b"new"))
            assert not again.new
            item = await store.get_inbox(again.inbox_id)
            assert item is not None
            assert item.body == b"old bytes"
            record = await store.find_command("old-command")
            assert record is not None
            assert record.command.payload == {"n": 1}
            assert record.replay_of is None  # the column added later reads as empty
            assert await store.canonical_id("salesforce", "003OLD") == "cust-old"
        (claim,) = await store.claim("w", limit=1) or [None]
        if claim is not None:
            await store.fail_permanent(claim, "boom", reason="test")
            replay = await store.replay(claim.command_id, actor="ops")
            assert replay.created
    finally:
        await store.close()


async def test_starting_twice_is_a_no_op(backend: Backend, clock: ManualClock) -> None:
    for _ in range(2):
        store = backend.build(clock)
        await store.start()
        assert await store.schema_version() == LATEST
        await store.close()


async def test_a_schema_newer_than_the_code_is_refused(
    backend: Backend, clock: ManualClock
) -> None:
    await _build_at(backend, LATEST)
    future = (LATEST + 1, "from_the_future", 0.0)
    insert = "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)"
    if backend.kind == "sqlite":
        conn = sqlite3.connect(backend.path, isolation_level=None)
        conn.execute(insert, future)
        conn.close()
    else:
        assert backend.url is not None
        with psycopg.connect(
            backend.url, autocommit=True, options=f"-c search_path={backend.schema}"
        ) as pg:
            pg.execute(insert.replace("?", "%s").encode(), future)
    store = backend.build(clock)
    with pytest.raises(MigrationError, match="newer than this code"):
        await store.start()
    await store.close()
