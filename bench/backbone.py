"""Benchmark of the backbone store: raw SQLite baseline, inbox group commit, queue throughput.

Run: ``.venv/bin/python bench/backbone.py [--quick] [--postgres-url URL]``

Measures in one run:
  (a) raw baseline: single-row INSERT + COMMIT of 3 KB rows per second on an SQLite file in
      WAL mode with synchronous=FULL (the inbox's settings);
  (b) inbox records per second with 64 concurrent producers, on SQLite and on PostgreSQL;
  (c) commands per second through enqueue, claim and complete with 32 workers, on SQLite and
      on PostgreSQL.
Every write uses a unique key and row counts are checked afterwards, so no duplicate can turn a
write into a no-op. Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg

from crossdock.backbone import Command, Delivery, SqlStore
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore

BODY = os.urandom(1536).hex().encode()  # 3 KB, incompressible
CLAIM_BATCH = 8  # a worker claims up to this many commands per claim
DEFAULT_PG = os.environ.get(
    "CROSSDOCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def raw_baseline(path: Path, seconds: float) -> float:
    """(a) Single-row INSERT + COMMIT of 3 KB rows per second, WAL, synchronous=FULL."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body BLOB)")
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (k, body) VALUES (?, ?)", (f"k-{done}", BODY))
        conn.execute("COMMIT")
        done += 1
    elapsed = time.perf_counter() - start
    (count,) = conn.execute("SELECT count(*) FROM t").fetchone()
    conn.close()
    if count != done:
        raise SystemExit(f"baseline: {count} rows for {done} inserts")
    return done / elapsed


async def inbox_rate(store: SqlStore, producers: int, seconds: float) -> tuple[float, int]:
    """(b) Inbox records per second with concurrent producers; returns (rate, count)."""
    run = uuid.uuid4().hex[:8]
    counts = [0] * producers
    deadline = time.perf_counter() + seconds

    async def producer(n: int) -> None:
        while time.perf_counter() < deadline:
            record = await store.record_delivery(
                Delivery("bench", f"{run}-{n}-{counts[n]}", BODY, {"p": str(n)}, "corr")
            )
            if not record.new:
                raise SystemExit("inbox: a unique key came back as a duplicate")
            counts[n] += 1

    start = time.perf_counter()
    await asyncio.gather(*(producer(n) for n in range(producers)))
    elapsed = time.perf_counter() - start
    return sum(counts) / elapsed, sum(counts)


async def queue_rate(store: SqlStore, workers: int, total: int) -> float:
    """(c) Commands per second through enqueue, claim and complete.

    Eight producers enqueue one command per call while the workers claim (up to CLAIM_BATCH at
    a time) and complete each command with its own call; concurrent enqueue and complete calls
    are group-committed by the store. The clock stops when every command is done.
    """
    run = uuid.uuid4().hex[:8]
    enqueued = 0
    completed = 0
    producers = 8

    async def produce(n: int) -> None:
        nonlocal enqueued
        for i in range(n, total, producers):
            (result,) = await store.enqueue(
                Command(f"{run}-{i}", f"dest-{i % 4}", "bench.noop", {"i": i})
            )
            if not result.created:
                raise SystemExit("queue: a unique key came back as existing")
            enqueued += 1

    async def work(name: str) -> None:
        nonlocal completed
        while completed < total:
            claims = await store.claim(name, limit=CLAIM_BATCH, lease_seconds=60)
            if not claims:
                # Sleeping lets work pile up so that claims come in full batches; waking on
                # each enqueue (store.wait_for_work) gives lower latency but fewer commands/s.
                await asyncio.sleep(0.05)
                continue
            for claim in claims:
                await store.complete(claim, {"ok": True})
                completed += 1

    start = time.perf_counter()
    await asyncio.gather(
        *(produce(n) for n in range(producers)), *(work(f"w{n}") for n in range(workers))
    )
    elapsed = time.perf_counter() - start
    if enqueued != total or completed != total:
        raise SystemExit(f"queue: {enqueued} enqueued, {completed} completed of {total}")
    depth = await store.queue_depth()
    if depth:
        raise SystemExit(f"queue: work left behind {depth}")
    return total / elapsed


async def _with_store(
    build: Callable[[], SqlStore], body: Callable[[SqlStore], Awaitable[Any]]
) -> Any:
    store = build()
    await store.start()
    try:
        return await body(store)
    finally:
        await store.close()


def _count_sqlite(path: Path, table: str, where: str = "") -> int:
    conn = sqlite3.connect(path)
    (count,) = conn.execute(f"SELECT count(*) FROM {table} {where}").fetchone()
    conn.close()
    return int(count)


def _count_pg(url: str, schema: str, table: str, where: str = "") -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.{table} {where}".encode()).fetchone()
        assert row is not None
        return int(row[0])


def _drop_pg(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args()
    seconds = 1.5 if args.quick else 5.0
    commands = 1500 if args.quick else 8000
    results: dict[str, Any] = {"quick": args.quick, "cpus": os.cpu_count()}
    rows: list[tuple[str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="crossdock-bench-") as tmp:
        base = Path(tmp)
        raw = raw_baseline(base / "raw.db", seconds)
        results["a_sqlite_raw_insert_commit_per_s"] = round(raw)
        rows.append(("(a) raw INSERT+COMMIT 3 KB, WAL, FULL", "sqlite", f"{raw:,.0f} rows/s"))

        inbox_path = base / "inbox.db"
        rate, count = await _with_store(
            lambda: SQLiteStore(inbox_path), lambda s: inbox_rate(s, 64, seconds)
        )
        if _count_sqlite(inbox_path, "inbox") != count:
            raise SystemExit("sqlite inbox: row count differs from acknowledged records")
        results["b_sqlite_inbox_per_s"] = round(rate)
        results["b_over_a"] = round(rate / raw, 2)
        rows.append(("(b) inbox, 64 producers", "sqlite", f"{rate:,.0f} records/s"))

        queue_path = base / "queue.db"
        rate = await _with_store(
            lambda: SQLiteStore(queue_path), lambda s: queue_rate(s, 32, commands)
        )
        if _count_sqlite(queue_path, "commands", "WHERE status = 'done'") != commands:
            raise SystemExit("sqlite queue: done count differs")
        results["c_sqlite_commands_per_s"] = round(rate)
        rows.append(("(c) enqueue+claim+complete, 32 workers", "sqlite", f"{rate:,.0f} cmd/s"))

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        rate, count = await _with_store(
            lambda: PostgresStore(args.postgres_url, schema=schema, min_size=8, max_size=8),
            lambda s: inbox_rate(s, 64, seconds),
        )
        if _count_pg(args.postgres_url, schema, "inbox") != count:
            raise SystemExit("postgres inbox: row count differs from acknowledged records")
        results["b_postgres_inbox_per_s"] = round(rate)
        rows.append(("(b) inbox, 64 producers", "postgres", f"{rate:,.0f} records/s"))
        rate = await _with_store(
            lambda: PostgresStore(args.postgres_url, schema=schema, min_size=16, max_size=16),
            lambda s: queue_rate(s, 32, commands),
        )
        where = "WHERE status = 'done'"
        if _count_pg(args.postgres_url, schema, "commands", where) != commands:
            raise SystemExit("postgres queue: done count differs")
        results["c_postgres_commands_per_s"] = round(rate)
        rows.append(("(c) enqueue+claim+complete, 32 workers", "postgres", f"{rate:,.0f} cmd/s"))
    except psycopg.OperationalError as error:
        results["postgres_error"] = str(error).splitlines()[0]
    finally:
        with contextlib.suppress(psycopg.OperationalError):
            _drop_pg(args.postgres_url, schema)

    results["targets"] = {
        "b_sqlite_at_least_half_of_a": results.get("b_over_a", 0) >= 0.5,
        "c_postgres_at_least_1000": results.get("c_postgres_commands_per_s", 0) >= 1000,
    }
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'backend':<8}  rate")
    for name, backend, value in rows:
        print(f"{name.ljust(width)}  {backend:<8}  {value}")
    print(f"b/a (sqlite) = {results.get('b_over_a')}")
    sys.stdout.flush()
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
