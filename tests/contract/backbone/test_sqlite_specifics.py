"""What only the SQLite store does: pragmas, one writer, a clear error on misuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.backbone import Command, StoreError
from crossdock.backbone.sqlite import SQLiteStore


async def test_the_inbox_commits_in_wal_mode_with_synchronous_full(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "hub.db", busy_timeout=2.5) as store:
        assert await store.settings() == {
            "journal_mode": "wal",
            "synchronous": "FULL",
            "busy_timeout": "2500",
        }


async def test_the_operator_may_choose_synchronous_normal(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL") as store:
        assert (await store.settings())["synchronous"] == "NORMAL"


async def test_a_plain_write_inside_a_transaction_is_a_clear_error(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "hub.db") as store:

        async def misuse() -> None:
            async with store.transaction() as tx:
                await tx.enqueue(Command("inside", "erp", "x"))
                await store.enqueue(Command("outside", "erp", "x"))

        with pytest.raises(StoreError, match="use the methods of `tx`"):
            await misuse()
        assert await store.find_command("inside") is None  # the whole step rolled back
        await store.enqueue(Command("after", "erp", "x"))  # and the writer is free again
        assert await store.queue_depth() == {"erp": 1}


async def test_a_store_that_is_not_started_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "hub.db")
    with pytest.raises(StoreError, match="not started"):
        await store.enqueue(Command("k", "erp", "x"))
