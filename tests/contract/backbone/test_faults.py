"""Faults: a locked, full or unreachable database refuses clearly and recovers by itself."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import psycopg
import pytest

from crossdock.backbone import (
    Command,
    Delivery,
    StoreError,
    StoreLocked,
    StoreUnavailable,
)
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.runtime.clock import ManualClock


async def test_a_locked_sqlite_database_is_retryable_and_stores_nothing(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "hub.db"
    store = SQLiteStore(path, busy_timeout=0.2, clock=clock)
    await store.start()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.record_delivery(Delivery("shopify", "d-1", b"{}"))
        with pytest.raises(StoreUnavailable, match="locked"):
            await store.enqueue(Command("k", "erp", "x"))
        blocker.execute("ROLLBACK")
        record = await store.record_delivery(Delivery("shopify", "d-1", b"{}"))
        assert record.new  # the refused attempt left nothing behind
    finally:
        blocker.close()
        await store.close()


async def test_a_full_sqlite_database_refuses_and_recovers_when_space_returns(
    tmp_path: Path, clock: ManualClock
) -> None:
    store = SQLiteStore(tmp_path / "hub.db", clock=clock)
    await store.start()
    try:
        await store.set_max_size((tmp_path / "hub.db").stat().st_size + 256 * 1024)
        acknowledged: list[int] = []
        refused_key, refusal = None, ""
        for i in range(200):
            try:
                record = await store.record_delivery(Delivery("edi", f"f-{i}", b"x" * 32_000))
            except StoreUnavailable as error:
                refused_key, refusal = f"f-{i}", str(error)
                break
            acknowledged.append(record.inbox_id)
        assert "full" in refusal
        assert refused_key is not None
        assert acknowledged
        with pytest.raises(StoreUnavailable, match="full"):
            await store.enqueue(Command("while-full", "erp", "x", payload={"b": "y" * 300_000}))
        await store.set_max_size(None)  # space returns
        again = await store.record_delivery(Delivery("edi", refused_key, b"x" * 32_000))
        assert again.new
        for inbox_id in acknowledged:
            assert await store.get_inbox(inbox_id) is not None
    finally:
        await store.close()


async def test_a_second_process_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    script = textwrap.dedent(
        """
        import asyncio, sys
        from crossdock.backbone.sqlite import SQLiteStore
        from crossdock.backbone import StoreLocked

        async def main() -> None:
            store = SQLiteStore(sys.argv[1])
            try:
                await store.start()
            except StoreLocked as error:
                print("REFUSED", error)
                return
            await store.close()
            print("OPENED")

        asyncio.run(main())
        """
    )

    def other_process() -> str:
        result = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    store = SQLiteStore(path)
    await store.start()
    try:
        refused = other_process()
        with pytest.raises(StoreLocked, match="another process"):
            await SQLiteStore(path).start()
    finally:
        await store.close()
    assert refused.startswith("REFUSED")
    assert "unsafe" in refused
    assert other_process().strip() == "OPENED"


async def test_a_read_only_store_inspects_a_file_the_hub_holds(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    async with SQLiteStore(path) as hub:
        await hub.enqueue(Command("k", "erp", "x"))
        async with SQLiteStore(path, read_only=True) as inspector:
            assert await inspector.queue_depth() == {"erp": 1}
            with pytest.raises(StoreError, match="read-only"):
                await inspector.enqueue(Command("k2", "erp", "x"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_unreachable_postgres_is_a_clear_retryable_error() -> None:
    url = f"postgresql://crossdock:secret@127.0.0.1:{_closed_port()}/hub"
    store = PostgresStore(url, connect_timeout=1)
    with pytest.raises(StoreUnavailable, match="unavailable") as caught:
        await store.start()
    assert "secret" not in str(caught.value)  # the password never reaches an error message
    await store.close()


@pytest.mark.postgres
async def test_lost_postgres_connections_are_retryable_and_the_pool_recovers(
    postgres_url: str,
) -> None:
    schema = f"cdtest_{uuid.uuid4().hex[:16]}"
    store = PostgresStore(postgres_url, schema=schema, min_size=2, max_size=2)
    await store.start()
    try:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (f"crossdock:{schema}",),
            )
        failures = 0
        for i in range(4):  # each broken pooled connection fails once, then is replaced
            try:
                await store.enqueue(Command(f"k-{i}", "erp", "x"))
            except StoreUnavailable:
                failures += 1
        assert failures >= 1
        record = await store.record_delivery(Delivery("s", "after", b"{}"))
        assert record.new
    finally:
        await store.close()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())
