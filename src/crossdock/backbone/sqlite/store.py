"""The SQLite store: one file in WAL mode, one writer thread, group commit for the inbox.

All writes go through one connection on one dedicated thread (SQLite has one writer anyway);
each write transaction starts with ``BEGIN IMMEDIATE`` so it holds the write lock from its
first statement. Reads use a second connection on a second thread and see committed data.

Only one process may hold a file as a hub store: an exclusive ``flock`` on ``<file>.lock`` is
taken at start, and a second process gets `StoreLocked`. Leases and fencing assume a single
writer process; several worker processes need PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from crossdock.backbone import _codec as codec
from crossdock.backbone._core import SqlStore
from crossdock.backbone._sql import load_queries
from crossdock.backbone._transaction import Row
from crossdock.backbone.migrate import migrate_sqlite
from crossdock.backbone.store import (
    ClaimedCommand,
    Command,
    Delivery,
    Enqueued,
    InboxRecord,
    JSONObject,
    MigrationError,
    NotFound,
    StoreError,
    StoreLocked,
    StoreUnavailable,
)
from crossdock.runtime.clock import Clock

T = TypeVar("T")
In = TypeVar("In")
Out = TypeVar("Out")
Synchronous = Literal["FULL", "NORMAL", "EXTRA"]

_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


class SQLiteStore(SqlStore):
    """The embedded store on one SQLite file.

    Args:
        path: The database file (created when missing).
        synchronous: ``FULL`` (default: a commit survives power loss) or ``NORMAL`` (a commit
            survives a crash of the process, and may be lost on power loss).
        busy_timeout: Seconds to wait for a lock held by someone else before raising
            `StoreUnavailable`.
        read_only: Open for reading only, without taking the hub lock (for inspection while
            the hub runs); every write raises `StoreError`.
        clock: The clock for leases and schedules.
        **kwargs: Passed to `SqlStore` (retry policy, group-commit batch size and wait).
    """

    dialect: ClassVar[str] = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 5.0,
        read_only: bool = False,
        clock: Clock | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(clock=clock, **kwargs)
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        self.path = Path(path)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self._queries = load_queries("sqlite")
        self._lock_fd: int | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._writer_thread: ThreadPoolExecutor | None = None
        self._reader_thread: ThreadPoolExecutor | None = None
        self._write_lock = asyncio.Lock()
        self._lock_owner: asyncio.Task[Any] | None = None
        self._default_max_pages = 0

    # lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take the hub lock, open both connections and apply pending migrations."""
        if self._reader is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.read_only:
            self._take_hub_lock()
        try:
            self._reader_thread = ThreadPoolExecutor(1, thread_name_prefix="crossdock-sqlite-r")
            if not self.read_only:
                self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="crossdock-sqlite-w")
                self._writer = await self._on(self._writer_thread, self._open_writer)
            self._reader = await self._on(self._reader_thread, self._open_reader)
        except BaseException:
            await self.close()
            raise

    def _take_hub_lock(self) -> None:
        lock_path = f"{self.path}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(
                f"the SQLite database {self.path} is already open as a hub store by another "
                f"process (lock file {lock_path}). Several processes sharing one SQLite file "
                "are unsafe for leases and fencing: run one hub process per SQLite file, or "
                "use PostgreSQL (CROSSDOCK_DATABASE_URL=postgresql://...) for several workers."
            ) from None
        self._lock_fd = fd

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,
            timeout=self.busy_timeout,
        )
        conn.row_factory = _dict_row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode is None or str(next(iter(mode.values()))).lower() != "wal":
                raise StoreError(f"cannot put {self.path} in WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            row = conn.execute("PRAGMA max_page_count").fetchone()
            self._default_max_pages = int(next(iter(row.values())))
            migrate_sqlite(conn)
        except sqlite3.Error as error:
            conn.close()
            raise self._translate(error) from error
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_reader(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA query_only = ON")
            if self.read_only:
                version = sqlite_version_readonly(conn)
                if version == 0:
                    raise MigrationError(f"{self.path} holds no crossdock schema yet")
        except sqlite3.Error as error:
            conn.close()
            raise self._translate(error) from error
        except BaseException:
            conn.close()
            raise
        return conn

    async def close(self) -> None:
        """Finish pending inbox writes, close both connections and release the hub lock."""
        await self.drain_batches()
        for conn, thread in (
            (self._writer, self._writer_thread),
            (self._reader, self._reader_thread),
        ):
            if conn is not None and thread is not None:
                await self._on(thread, conn.close)
            if thread is not None:
                thread.shutdown(wait=True)
        self._writer = self._reader = None
        self._writer_thread = self._reader_thread = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    async def schema_version(self) -> int:
        """Return the schema version of the file."""
        conn, thread = self._reading()
        return await self._on(thread, partial(sqlite_version_readonly, conn))

    async def settings(self) -> dict[str, str]:
        """Return the writer connection's journal mode, synchronous level and busy timeout."""
        conn, thread = self._writing()

        def read() -> dict[str, str]:
            values = {
                name: str(next(iter(conn.execute(f"PRAGMA {name}").fetchone().values())))
                for name in ("journal_mode", "synchronous", "busy_timeout")
            }
            levels = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}
            values["synchronous"] = levels.get(values["synchronous"], values["synchronous"])
            return values

        async with self._write_lock:
            return await self._on(thread, read)

    async def set_max_size(self, max_bytes: int | None) -> None:
        """Cap the database file size (None: no cap). Writes beyond it raise `StoreUnavailable`.

        An operator's safety valve for a shared disk; it is also how a full disk is rehearsed.
        """
        conn, thread = self._writing()

        def apply() -> None:
            if max_bytes is None:
                pages = self._default_max_pages
            else:
                page_size = int(next(iter(conn.execute("PRAGMA page_size").fetchone().values())))
                pages = max(1, max_bytes // page_size)
            conn.execute(f"PRAGMA max_page_count = {int(pages)}")

        async with self._write_lock:
            await self._on(thread, apply)

    # sessions -------------------------------------------------------------------------------
    async def _on(self, thread: ThreadPoolExecutor, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(thread, call)

    def _writing(self) -> tuple[sqlite3.Connection, ThreadPoolExecutor]:
        if self.read_only:
            raise StoreError(f"the store on {self.path} was opened read-only")
        if self._writer is None or self._writer_thread is None:
            raise StoreError("the store is not started (call start() first)")
        return self._writer, self._writer_thread

    def _reading(self) -> tuple[sqlite3.Connection, ThreadPoolExecutor]:
        if self._reader is None or self._reader_thread is None:
            raise StoreError("the store is not started (call start() first)")
        return self._reader, self._reader_thread

    def _translate(self, error: BaseException) -> BaseException:
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            code = sqlite3.SQLITE_FULL
        if code is None or (code & 0xFF) not in _UNAVAILABLE_CODES:
            return error
        primary = code & 0xFF
        if primary == sqlite3.SQLITE_FULL:
            why = "is full (disk full or size cap reached); it recovers when space returns"
        elif primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            why = f"is locked by another connection for more than {self.busy_timeout}s"
        else:
            why = f"cannot be written ({error})"
        return StoreUnavailable(f"the SQLite database {self.path} {why}; nothing was stored")

    def _guarded(self, conn: sqlite3.Connection, call: Callable[[], T]) -> T:
        try:
            return call()
        except (sqlite3.Error, OSError) as error:
            raise self._translate(error) from error

    def guard_reentry(self) -> None:
        """Refuse a write from the task that holds the writer (it would wait for itself)."""
        if self._lock_owner is not None and self._lock_owner is asyncio.current_task():
            raise StoreError(
                "a store write was called inside `async with store.transaction() as tx`; "
                "use the methods of `tx` there (the SQLite writer is held by that transaction)"
            )

    @asynccontextmanager
    async def _writer_held(self) -> AsyncIterator[None]:
        self.guard_reentry()
        async with self._write_lock:
            self._lock_owner = asyncio.current_task()
            try:
                yield
            finally:
                self._lock_owner = None

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[_SQLiteSession]:
        """Yield a session inside ``BEGIN IMMEDIATE``; commit on success, else roll back."""
        conn, thread = self._writing()
        async with self._writer_held():
            await self._on(
                thread, partial(self._guarded, conn, partial(conn.execute, "BEGIN IMMEDIATE"))
            )
            try:
                yield _SQLiteSession(self, conn, thread)
                await self._on(
                    thread, partial(self._guarded, conn, partial(conn.execute, "COMMIT"))
                )
            except BaseException:
                await asyncio.shield(self._on(thread, partial(_rollback, conn)))
                raise

    @asynccontextmanager
    async def autocommit_session(self) -> AsyncIterator[_SQLiteSession]:
        """Yield a session on the writer whose statements each commit on their own."""
        conn, thread = self._writing()
        async with self._writer_held():
            yield _SQLiteSession(self, conn, thread)

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[_SQLiteSession]:
        """Yield a session on the read connection."""
        conn, thread = self._reading()
        yield _SQLiteSession(self, conn, thread)

    def list_param(self, values: Sequence[str] | None) -> Any:
        """Lists travel as JSON text, unpacked with ``json_each`` in the SQL."""
        return None if values is None else codec.dump_json(list(values))

    def query(self, name: str) -> str:
        """Return a named query's SQL."""
        return self._queries[name]

    # group commit: each batch is one transaction in one call on the writer thread -------------
    async def _batch(
        self, items: Sequence[In], one: Callable[[sqlite3.Connection, In], Out]
    ) -> list[Out]:
        conn, thread = self._writing()
        async with self._write_lock:
            return await self._on(thread, partial(self._batch_sync, conn, items, one))

    def _batch_sync(
        self,
        conn: sqlite3.Connection,
        items: Sequence[In],
        one: Callable[[sqlite3.Connection, In], Out],
    ) -> list[Out]:
        try:
            conn.execute("BEGIN IMMEDIATE")
            results = [one(conn, item) for item in items]
            conn.execute("COMMIT")
        except BaseException as error:
            _rollback(conn)
            if isinstance(error, sqlite3.Error | OSError):
                raise self._translate(error) from error
            raise
        return results

    async def _record_batch(self, deliveries: Sequence[Delivery]) -> list[InboxRecord]:
        now = self.clock.now().timestamp()
        insert, find = self._queries["insert_inbox"], self._queries["inbox_id_by_key"]

        def one(conn: sqlite3.Connection, delivery: Delivery) -> InboxRecord:
            params = {
                "source": delivery.source,
                "dedupe_key": delivery.dedupe_key,
                "headers": codec.dump_json(dict(delivery.headers)),
                "body": bytes(delivery.body),
                "correlation_id": delivery.correlation_id,
                "now": now,
            }
            row = conn.execute(insert, params).fetchone()
            if row is not None:
                return InboxRecord(row["id"], new=True)
            existing = conn.execute(find, params).fetchone()
            if existing is None:
                raise NotFound(f"inbox row {delivery.source}/{delivery.dedupe_key} vanished")
            return InboxRecord(existing["id"], new=False)

        return await self._batch(deliveries, one)

    async def _enqueue_batch(self, commands: Sequence[Command]) -> list[Enqueued]:
        now = self.clock.now().timestamp()
        insert, find = self._queries["insert_command"], self._queries["command_id_by_key"]

        def one(conn: sqlite3.Connection, command: Command) -> Enqueued:
            params = codec.command_params(command, now)
            row = conn.execute(insert, params).fetchone()
            if row is not None:
                return Enqueued(row["id"], created=True)
            existing = conn.execute(find, params).fetchone()
            if existing is None:
                raise NotFound(f"command {command.idempotency_key!r} vanished while enqueueing")
            return Enqueued(existing["id"], created=False)

        return await self._batch(commands, one)

    async def _complete_batch(
        self, completions: Sequence[tuple[ClaimedCommand, JSONObject | None]]
    ) -> list[bool]:
        now = self.clock.now().timestamp()
        update = self._queries["complete_command"]

        def one(
            conn: sqlite3.Connection, completion: tuple[ClaimedCommand, JSONObject | None]
        ) -> bool:
            claim, result = completion
            encoded = None if result is None else codec.dump_json(result)
            params = {"id": claim.command_id, "token": claim.token, "result": encoded, "now": now}
            return conn.execute(update, params).rowcount == 1

        return await self._batch(completions, one)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        # SQLite may have rolled back by itself (e.g. after SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def sqlite_version_readonly(conn: sqlite3.Connection) -> int:
    """Return the schema version without creating the version table."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_version").fetchone()
    return int(row["v"])


class _SQLiteSession:
    """Named queries on one connection, each run on that connection's thread."""

    def __init__(self, store: SQLiteStore, conn: sqlite3.Connection, thread: ThreadPoolExecutor):
        self._store = store
        self._conn = conn
        self._thread = thread

    async def fetch(self, name: str, params: Mapping[str, Any]) -> list[Row]:
        sql = self._store.query(name)

        def run() -> list[Row]:
            return self._conn.execute(sql, dict(params)).fetchall()

        return await self._store._on(self._thread, partial(self._store._guarded, self._conn, run))

    async def execute(self, name: str, params: Mapping[str, Any]) -> int:
        sql = self._store.query(name)

        def run() -> int:
            return self._conn.execute(sql, dict(params)).rowcount

        return await self._store._on(self._thread, partial(self._store._guarded, self._conn, run))
