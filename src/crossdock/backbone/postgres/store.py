"""The PostgreSQL store: psycopg 3 async with a connection pool; claims with SKIP LOCKED.

Several worker processes on several machines may share one database: claims lock the rows
they take (``FOR UPDATE SKIP LOCKED``) and leases with fencing tokens settle who may finish a
command. Connection failures, pool timeouts, deadlocks and serialisation failures become
`StoreUnavailable` (retryable; nothing was committed).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from crossdock.backbone import _codec as codec
from crossdock.backbone._core import ClaimRequest, SqlStore
from crossdock.backbone._sql import load_queries
from crossdock.backbone._transaction import Row
from crossdock.backbone.migrate import migrate_postgres, postgres_version
from crossdock.backbone.store import (
    ClaimedCommand,
    Command,
    Delivery,
    Enqueued,
    InboxRecord,
    JSONObject,
    NotFound,
    StoreError,
    StoreUnavailable,
)
from crossdock.runtime.clock import Clock

URL_VARIABLE = "CROSSDOCK_DATABASE_URL"
_COMMAND_ARRAYS = {
    "keys": "idempotency_key",
    "destinations": "destination",
    "kinds": "kind",
    "payloads": "payload",
    "partition_keys": "partition_key",
    "priorities": "priority",
    "max_attempts": "max_attempts",
    "correlation_ids": "correlation_id",
    "not_befores": "not_before",
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _redact(url: str) -> str:
    """Hide a password in a URL, so that errors can name the server without the secret."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class PostgresStore(SqlStore):
    """The store on a PostgreSQL database.

    Args:
        url: The connection URL; defaults to the ``CROSSDOCK_DATABASE_URL`` variable.
        schema: The schema that holds the tables (created when missing); default: the
            server's search path. Lower-case letters, digits and underscores.
        min_size: Connections the pool keeps open.
        max_size: Connections the pool may open.
        connect_timeout: Seconds to wait for a connection before `StoreUnavailable`.
        clock: The clock for leases and schedules.
        **kwargs: Passed to `SqlStore` (retry policy, group-commit batch size and wait).
    """

    dialect: ClassVar[str] = "postgres"

    def __init__(
        self,
        url: str | None = None,
        *,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 5.0,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(clock=clock, **kwargs)
        resolved = url or os.environ.get(URL_VARIABLE)
        if not resolved:
            raise StoreError(f"no PostgreSQL URL: pass one or set {URL_VARIABLE}")
        if schema is not None and not _IDENTIFIER.match(schema):
            raise ValueError(f"schema {schema!r} is not a plain lower-case identifier")
        self.url = resolved
        self.schema = schema
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self._queries = load_queries("postgres")
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] | None = None

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "row_factory": dict_row,
            "connect_timeout": max(1, round(self.connect_timeout)),
            "application_name": f"crossdock:{self.schema or 'store'}",
        }
        # A commit must be durable when it returns, whatever the server's default says.
        options = "-c synchronous_commit=on"
        if self.schema is not None:
            options += f" -c search_path={self.schema}"
        kwargs["options"] = options
        return kwargs

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        return StoreUnavailable(
            f"PostgreSQL at {_redact(self.url)} is unavailable ({type(error).__name__}: "
            f"{str(error).strip() or 'no detail'}); nothing was committed, retry later"
        )

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect, create the schema when asked, apply migrations and open the pool."""
        if self._pool is not None:
            return
        await self.upgrade()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Row]] = AsyncConnectionPool(
            self.url,
            kwargs=self._connect_kwargs(),
            min_size=self.min_size,
            max_size=self.max_size,
            timeout=self.connect_timeout,
            open=False,
            name=f"crossdock-{self.schema or 'store'}",
        )
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
        except psycopg.OperationalError as error:
            await pool.close()
            raise self._unavailable(error) from error
        self._pool = pool

    async def upgrade(self, target: int | None = None) -> int:
        """Apply pending migrations (up to `target`, default latest); return the version."""
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, **self._connect_kwargs())
        except psycopg.OperationalError as error:
            raise self._unavailable(error) from error
        async with conn:
            if self.schema is not None:
                await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}".encode())
            return await migrate_postgres(conn, target)

    async def schema_version(self) -> int:
        """Return the schema version of the database."""
        async with self._connection() as conn:
            return await postgres_version(conn)

    async def close(self) -> None:
        """Finish pending inbox writes and close the pool."""
        await self.drain_batches()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # sessions -------------------------------------------------------------------------------
    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Row]]:
        if self._pool is None:
            raise StoreError("the store is not started (call start() first)")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as error:
            raise self._unavailable(error) from error

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[_PostgresSession]:
        """Yield a session inside a transaction; commit on success, else roll back."""
        async with self._connection() as conn, conn.transaction():
            yield _PostgresSession(self._queries, conn)

    @asynccontextmanager
    async def autocommit_session(self) -> AsyncIterator[_PostgresSession]:
        """Yield a session whose statements each commit on their own."""
        async with self._connection() as conn:
            yield _PostgresSession(self._queries, conn)

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[_PostgresSession]:
        """Yield a session on a pooled connection (each statement sees committed data)."""
        async with self._connection() as conn:
            yield _PostgresSession(self._queries, conn)

    def list_param(self, values: Sequence[str] | None) -> Any:
        """Lists travel as ``text[]``."""
        return None if values is None else list(values)

    # group commit in one statement per batch ----------------------------------------------------
    async def _record_batch(self, deliveries: Sequence[Delivery]) -> list[InboxRecord]:
        params = {
            "now": self.clock.now().timestamp(),
            "sources": [d.source for d in deliveries],
            "dedupe_keys": [d.dedupe_key for d in deliveries],
            "headers": [codec.dump_json(dict(d.headers)) for d in deliveries],
            "bodies": [bytes(d.body) for d in deliveries],
            "correlation_ids": [d.correlation_id for d in deliveries],
        }
        async with self.autocommit_session() as session:  # one statement: durable on return
            inserted = await session.fetch("insert_inbox_batch", params)
            created = {(r["source"], r["dedupe_key"]): r["id"] for r in inserted}
            existing: dict[tuple[str, str], int] = {}
            if len(created) < len(deliveries):
                found = await session.fetch("inbox_ids_by_keys", params)
                existing = {(r["source"], r["dedupe_key"]): r["id"] for r in found}
        records: list[InboxRecord] = []
        for delivery in deliveries:
            key = (delivery.source, delivery.dedupe_key)
            if key in created:  # the first copy in the batch is the new one
                existing[key] = created.pop(key)
                records.append(InboxRecord(existing[key], new=True))
            elif key in existing:
                records.append(InboxRecord(existing[key], new=False))
            else:
                raise NotFound(f"inbox row {key[0]}/{key[1]} vanished")
        return records

    async def _enqueue_batch(self, commands: Sequence[Command]) -> list[Enqueued]:
        now = self.clock.now().timestamp()
        rows = [codec.command_params(c, now) for c in commands]
        params = {
            "now": now,
            **{plural: [row[field] for row in rows] for plural, field in _COMMAND_ARRAYS.items()},
        }
        async with self.autocommit_session() as session:
            created = {
                r["idempotency_key"]: r["id"]
                for r in await session.fetch("insert_commands", params)
            }
            missing = [c.idempotency_key for c in commands if c.idempotency_key not in created]
            existing: dict[str, int] = {}
            if missing:
                found = await session.fetch("command_ids_by_keys", {"keys": missing})
                existing = {r["idempotency_key"]: r["id"] for r in found}
        results: list[Enqueued] = []
        for command in commands:
            key = command.idempotency_key
            if key in created:
                results.append(Enqueued(created.pop(key), created=True))
                existing[key] = results[-1].command_id
            elif key in existing:
                results.append(Enqueued(existing[key], created=False))
            else:
                raise NotFound(f"command {key!r} vanished while enqueueing")
        return results

    async def _claim_batch(self, requests: Sequence[ClaimRequest]) -> list[list[Row]]:
        # Callers with the same filter share one statement; each row carries the slot it fills,
        # and a caller asking for n commands owns n consecutive slots.
        groups: dict[tuple[tuple[str, ...] | None, float], list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault((request.destinations, request.lease_seconds), []).append(index)
        results: list[list[Row]] = [[] for _ in requests]
        now = self.clock.now().timestamp()
        async with self.autocommit_session() as session:
            for (destinations, lease_seconds), members in groups.items():
                owners = [i for i in members for _ in range(requests[i].limit)]
                params = {
                    "now": now,
                    "lease_expires_at": now + lease_seconds,
                    "destinations": self.list_param(destinations),
                    "limit": len(owners),
                    "workers": [requests[i].worker for i in owners],
                }
                rows = await session.fetch("claim_commands_for", params)
                for row in sorted(rows, key=lambda r: r["slot"]):
                    results[owners[row["slot"] - 1]].append(row)
        return results

    async def _complete_batch(
        self, completions: Sequence[tuple[ClaimedCommand, JSONObject | None]]
    ) -> list[bool]:
        firsts: dict[int, int] = {}
        for index, (claim, _) in enumerate(completions):
            firsts.setdefault(claim.command_id, index)
        params = {
            "now": self.clock.now().timestamp(),
            "ids": [claim.command_id for claim, _ in completions],
            "tokens": [claim.token for claim, _ in completions],
            "results": [None if r is None else codec.dump_json(r) for _, r in completions],
        }
        async with self.autocommit_session() as session:
            done = {r["id"] for r in await session.fetch("complete_commands", params)}
        # A claim completed twice in one batch succeeds once, like two separate calls would.
        return [
            claim.command_id in done and firsts[claim.command_id] == index
            for index, (claim, _) in enumerate(completions)
        ]


class _PostgresSession:
    """Named queries on one pooled connection."""

    def __init__(self, queries: Mapping[str, str], conn: psycopg.AsyncConnection[Row]) -> None:
        self._queries = queries
        self._conn = conn

    async def fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        cursor = await self._conn.execute(self._queries[name].encode(), params)
        return await cursor.fetchall() if cursor.description else []

    async def execute(self, name: str, params: Mapping[str, Any]) -> int:
        cursor = await self._conn.execute(self._queries[name].encode(), params)
        return cursor.rowcount
