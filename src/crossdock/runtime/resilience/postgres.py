"""Rate budgets and breaker state shared by every process, through PostgreSQL.

Needs the ``postgres`` extra (psycopg 3). One row per destination, changed atomically by a
single ``UPDATE … RETURNING`` (the row lock serialises concurrent workers of every process).
Times come from the injected `Clock` (wall time), so tests run in virtual time; hosts must
keep their clocks in step (NTP), and time never runs backwards in a row.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "PostgreSQL-backed budgets need psycopg: pip install 'crossdock[postgres]'"
    ) from exc

from crossdock.backbone.migrate import migrate_postgres
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.resilience._headers import header, parse_retry_after
from crossdock.runtime.resilience.breaker import BreakerRecord, BreakerState
from crossdock.runtime.resilience.budget import Feedback, Permit
from crossdock.runtime.resilience.leaky import SHOPIFY_CALL_LIMIT_HEADER, _parse_used_of

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# "refilled" below is the bucket's level now: LEAST(capacity, tokens + elapsed * refill).
_ADJUST_SQL = (
    "UPDATE {schema}.crossdock_rate_budget SET tokens = LEAST(LEAST(capacity, tokens"
    " + GREATEST(0, EXTRACT(EPOCH FROM (%(now)s - updated_at)))::float8 * refill_per_second),"
    " %(ceiling)s), updated_at = GREATEST(updated_at, %(now)s),"
    " paused_until = GREATEST(paused_until, %(pause)s) WHERE destination = %(dest)s"
)
_TAKE_SQL = (
    "UPDATE {schema}.crossdock_rate_budget SET tokens = LEAST(capacity, tokens"
    " + GREATEST(0, EXTRACT(EPOCH FROM (%(now)s - updated_at)))::float8 * refill_per_second)"
    " - %(cost)s, updated_at = GREATEST(updated_at, %(now)s)"
    " WHERE destination = %(dest)s AND paused_until <= %(now)s AND LEAST(capacity, tokens"
    " + GREATEST(0, EXTRACT(EPOCH FROM (%(now)s - updated_at)))::float8 * refill_per_second)"
    " >= %(cost)s RETURNING tokens"
)
_LEVEL_SQL = (
    "SELECT LEAST(capacity, tokens"
    " + GREATEST(0, EXTRACT(EPOCH FROM (%(now)s - updated_at)))::float8 * refill_per_second),"
    " paused_until, refill_per_second"
    " FROM {schema}.crossdock_rate_budget WHERE destination = %(dest)s"
)


class PostgresResilience:
    """One autocommit connection for a process's shared budgets and breaker states.

    Args:
        url: The PostgreSQL connection URL.
        schema: The schema holding the tables (created when missing).
    """

    def __init__(self, url: str, *, schema: str = "public") -> None:
        if not _IDENTIFIER.match(schema):
            raise ValueError(f"schema {schema!r} must be lower-case letters, digits and _")
        self.url = url
        self.schema = schema
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresResilience(schema={self.schema!r})"

    async def execute(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement (``{schema}`` is filled in) and return its rows."""
        async with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            cursor = await self._connection.execute(sql.format(schema=self.schema).encode(), params)
            return await cursor.fetchall() if cursor.description else []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Hold the connection for one transaction (``{schema}`` is not filled in here)."""
        async with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            async with self._connection.transaction():
                yield self._connection

    async def ensure_tables(self) -> None:
        """Bring the schema's tables to the store's latest version (creating the schema).

        The budget and breaker tables are part of the backbone's versioned migrations
        (``0004_breaker_state``), the same ones `PostgresStore.start()` and
        ``crossdock db upgrade`` apply; this only applies the pending ones to `schema`, so it
        is a no-op where the hub's store already started on it.
        """
        options = f"-c search_path={self.schema}"
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, options=options
        ) as conn:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}".encode())
            await migrate_postgres(conn)

    async def aclose(self) -> None:
        """Close the connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class PostgresTokenBucket:
    """A token bucket per destination shared by every process (Shopify REST's leaky bucket is
    one: 40 tokens, 2 per second). Adapts to ``used/size`` headers and 429 Retry-After, for
    all processes at once.

    At most ``capacity + refill_rate * T`` calls start in any span of T seconds.

    Args:
        name: The destination (the row's key).
        db: The shared connection.
        capacity: Bucket size.
        refill_rate: Tokens added per second.
        limit_header: A ``used/size`` header to adapt to (None to ignore).
        poll: Longest sleep between two tries while waiting.
        clock: The clock.
    """

    wants_body: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        db: PostgresResilience,
        *,
        capacity: float = 40,
        refill_rate: float = 2.0,
        limit_header: str | None = SHOPIFY_CALL_LIMIT_HEADER,
        poll: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if capacity <= 0 or refill_rate <= 0:
            raise ValueError("capacity and refill_rate must be positive")
        self.name = name
        self.db = db
        self.capacity = float(capacity)
        self.refill_rate = float(refill_rate)
        self.poll = poll
        self.clock: Clock = clock or SystemClock()
        self._limit_header = limit_header
        self._queue = asyncio.Lock()
        self._ready = False
        self._estimate = 0.0
        self._ceiling: float | None = None
        self._pause: datetime | None = None
        self._flushing: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"PostgresTokenBucket({self.name!r})"

    def wait_time(self, cost: float = 1.0) -> float:
        """The wait the last try computed (this process's estimate)."""
        return self._estimate

    async def acquire(self, cost: float = 1.0) -> Permit:
        """Wait until the shared bucket holds `cost` tokens, then take them."""
        if not (0 <= cost <= self.capacity):
            raise ValueError(f"a call's cost must be between 0 and {self.capacity}")
        async with self._queue:
            while (wait := await self._try(cost)) > 0:
                self._estimate = wait
                await self.clock.sleep(min(wait, self.poll))
            self._estimate = 0.0
            return Permit(cost=cost, granted_at=self.clock.monotonic())

    def release(self, permit: Permit, feedback: Feedback) -> None:
        """Note what the response said, and write it at once for every process to see."""
        if feedback.status == 429:
            delay = parse_retry_after(header(feedback.headers, "Retry-After"), self.clock.now())
            if delay is not None:
                self._pause = self.clock.now() + timedelta(seconds=delay)
            self._ceiling = 0.0
        if self._limit_header is not None and feedback.sent:
            used, size = _parse_used_of(header(feedback.headers, self._limit_header))
            if used is not None and size is not None:
                room = max(0.0, size - used)
                self._ceiling = room if self._ceiling is None else min(self._ceiling, room)
        if (self._ceiling is not None or self._pause is not None) and (
            self._flushing is None or self._flushing.done()
        ):
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        if self._ceiling is None and self._pause is None:
            return
        params: dict[str, Any] = {
            "dest": self.name,
            "now": self.clock.now(),
            "ceiling": self._ceiling if self._ceiling is not None else math.inf,
            "pause": self._pause or _EPOCH,
        }
        self._ceiling, self._pause = None, None
        await self.db.execute(_ADJUST_SQL, params)

    async def _try(self, cost: float) -> float:
        now = self.clock.now()
        params: dict[str, Any] = {"dest": self.name, "now": now, "cost": cost}
        if not self._ready:
            await self.db.execute(
                "INSERT INTO {schema}.crossdock_rate_budget"
                " (destination, tokens, capacity, refill_per_second, updated_at)"
                " VALUES (%(dest)s, %(cap)s, %(cap)s, %(rate)s, %(now)s)"
                " ON CONFLICT (destination) DO UPDATE SET capacity = EXCLUDED.capacity,"
                " refill_per_second = EXCLUDED.refill_per_second",
                {**params, "cap": self.capacity, "rate": self.refill_rate},
            )
            self._ready = True
        await self._flush()
        granted = await self.db.execute(_TAKE_SQL, params)
        if granted:
            return 0.0
        rows = await self.db.execute(_LEVEL_SQL, params)
        level, paused_until, rate = rows[0]
        paused = (paused_until - now).total_seconds() if paused_until > now else 0.0
        return max(paused, (cost - float(level)) / float(rate), 1e-3)


_WINDOW_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%(dest)s, 0))"
_WINDOW_PRUNE_SQL = (
    "DELETE FROM {schema}.crossdock_rate_grants WHERE destination = %(dest)s"
    " AND COALESCE(done_at, lease_until) <= %(horizon)s"
)
_WINDOW_COUNT_SQL = (
    "SELECT count(*), min(done_at), min(lease_until) FILTER (WHERE done_at IS NULL)"
    " FROM {schema}.crossdock_rate_grants WHERE destination = %(dest)s"
)
_WINDOW_GRANT_SQL = (
    "INSERT INTO {schema}.crossdock_rate_grants (destination, granted_at, lease_until)"
    " VALUES (%(dest)s, %(now)s, %(lease)s) RETURNING id"
)
_WINDOW_DONE_SQL = "UPDATE {schema}.crossdock_rate_grants SET done_at = %(now)s WHERE id = %(id)s"
_WINDOW_FORGET_SQL = "DELETE FROM {schema}.crossdock_rate_grants WHERE id = %(id)s"


class PostgresWindowBudget:
    """At most `limit` calls in any `window` seconds, across every process (ShipStation,
    Business Central), with the same guarantee as `WindowBudget`: a call occupies the budget
    from its grant until `window` seconds after its response. A call whose process died
    before reporting occupies it until its lease ends, plus the window.

    Args:
        name: The destination.
        db: The shared connection.
        limit: Calls per window.
        window: Window length in seconds.
        lease: Seconds after which an unreported call counts as answered.
        poll: Longest sleep between two tries while waiting.
        clock: The clock.
    """

    wants_body: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        db: PostgresResilience,
        *,
        limit: int,
        window: float,
        lease: float = 300.0,
        poll: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        if limit < 1 or window <= 0 or lease <= 0:
            raise ValueError("limit >= 1, window > 0 and lease > 0 are required")
        self.name = name
        self.db = db
        self.limit = limit
        self.window = float(window)
        self.lease = float(lease)
        self.poll = poll
        self.clock: Clock = clock or SystemClock()
        self._queue = asyncio.Lock()
        self._estimate = 0.0
        self._grants: dict[int, int] = {}
        self._reports: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"PostgresWindowBudget({self.name!r})"

    def wait_time(self, cost: float = 1.0) -> float:
        """The wait the last try computed (this process's estimate)."""
        return self._estimate

    async def acquire(self, cost: float = 1.0) -> Permit:
        """Wait until fewer than `limit` calls occupy the window, then take a place."""
        async with self._queue:
            while True:
                grant, wait = await self._try()
                if grant is not None:
                    self._estimate = 0.0
                    permit = Permit(cost=cost, granted_at=self.clock.monotonic())
                    self._grants[permit.id] = grant
                    return permit
                self._estimate = wait
                await self.clock.sleep(min(wait, self.poll))

    async def _try(self) -> tuple[int | None, float]:
        now = self.clock.now()
        window = timedelta(seconds=self.window)
        params: dict[str, Any] = {
            "dest": self.name,
            "now": now,
            "horizon": now - window,
            "lease": now + timedelta(seconds=self.lease),
        }
        async with self.db.transaction() as conn:
            await conn.execute(_WINDOW_LOCK_SQL.encode(), params)
            await conn.execute(_WINDOW_PRUNE_SQL.format(schema=self.db.schema).encode(), params)
            cursor = await conn.execute(
                _WINDOW_COUNT_SQL.format(schema=self.db.schema).encode(), params
            )
            count, oldest_done, oldest_lease = (await cursor.fetchall())[0]
            if count < self.limit:
                cursor = await conn.execute(
                    _WINDOW_GRANT_SQL.format(schema=self.db.schema).encode(), params
                )
                return int((await cursor.fetchall())[0][0]), 0.0
        ends = [t + window for t in (oldest_done, oldest_lease) if t is not None]
        wait = (min(ends) - now).total_seconds() if ends else self.poll
        return None, max(wait, 1e-3)

    def release(self, permit: Permit, feedback: Feedback) -> None:
        """Record the response time (or forget a call that was never sent), for every process."""
        grant = self._grants.pop(permit.id, None)
        if grant is None:
            return
        sql = _WINDOW_DONE_SQL if feedback.sent else _WINDOW_FORGET_SQL
        params = {"id": grant, "now": self.clock.now()}
        task = asyncio.get_running_loop().create_task(self._report(sql, params))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _report(self, sql: str, params: dict[str, Any]) -> None:
        await self.db.execute(sql, params)

    async def flush(self) -> None:
        """Wait until every released call has been written."""
        if self._reports:
            await asyncio.gather(*self._reports)


_BREAKER_LOAD_SQL = (
    "SELECT state, consecutive_failures, window_start, window_calls, window_failures,"
    " opened_at, probe_id, probe_until, version FROM {schema}.breaker_state"
    " WHERE destination = %(name)s"
)
_BREAKER_INSERT_SQL = (
    "INSERT INTO {schema}.breaker_state (destination, state, consecutive_failures,"
    " window_start, window_calls, window_failures, opened_at, probe_id, probe_until, version,"
    " updated_at) VALUES (%(name)s, %(state)s, %(consecutive_failures)s, %(window_start)s,"
    " %(window_calls)s, %(window_failures)s, %(opened_at)s, %(probe_id)s, %(probe_until)s,"
    " %(version)s, %(now)s) ON CONFLICT (destination) DO NOTHING RETURNING version"
)
_BREAKER_UPDATE_SQL = (
    "UPDATE {schema}.breaker_state SET state = %(state)s,"
    " consecutive_failures = %(consecutive_failures)s,"
    " window_start = %(window_start)s, window_calls = %(window_calls)s,"
    " window_failures = %(window_failures)s, opened_at = %(opened_at)s,"
    " probe_id = %(probe_id)s, probe_until = %(probe_until)s,"
    " version = %(version)s, updated_at = %(now)s"
    " WHERE destination = %(name)s AND version = %(expected)s RETURNING version"
)


class PostgresBreakerStateStore:
    """A `BreakerStateStore` in PostgreSQL: every worker of every process, and the console,
    see one state per breaker; compare-and-set on a version column keeps one probe at a time.

    It reads and writes the backbone store's ``breaker_state`` table (migration 0004), the one
    `crossdock.runtime.resilience.store_state.StoreBreakerStateStore` uses through the store,
    so both see the same breakers.

    Args:
        db: The shared connection.
    """

    def __init__(self, db: PostgresResilience) -> None:
        self.db = db

    def __repr__(self) -> str:
        return f"PostgresBreakerStateStore({self.db!r})"

    async def load(self, name: str) -> BreakerRecord:
        """Return the record of breaker `name` (a fresh closed one when unknown)."""
        rows = await self.db.execute(_BREAKER_LOAD_SQL, {"name": name})
        if not rows:
            return BreakerRecord()
        state, failures, start, calls, failed, opened, probe, until, version = rows[0]
        return BreakerRecord(
            state=BreakerState(state),
            consecutive_failures=failures,
            window_start=start,
            window_calls=calls,
            window_failures=failed,
            opened_at=opened,
            probe_id=probe,
            probe_until=until,
            version=version,
        )

    async def save(self, name: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Store `record` if the stored version is still `expected_version`."""
        params = {
            **asdict(record),
            "state": record.state.value,
            "name": name,
            "expected": expected_version,
            "now": self._stamp(),
        }
        sql = _BREAKER_INSERT_SQL if expected_version == 0 else _BREAKER_UPDATE_SQL
        rows = await self.db.execute(sql, params)
        return bool(rows)

    @staticmethod
    def _stamp() -> float:
        """The wall time stamped on a write (for the console; the logic never reads it)."""
        return datetime.now(UTC).timestamp()

    async def names(self) -> list[str]:
        """Return every stored breaker name."""
        rows = await self.db.execute(
            "SELECT destination FROM {schema}.breaker_state ORDER BY destination", {}
        )
        return [row[0] for row in rows]
