"""The migration runner: numbered ``.sql`` files applied in order, recorded in ``schema_version``.

Each migration runs in its own transaction (SQLite) or all pending ones in one transaction under
an advisory lock (PostgreSQL), so a failed upgrade leaves the schema at a known version.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

from crossdock.backbone._sql import Migration, latest_version, load_migrations
from crossdock.backbone.store import MigrationError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

_CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)
# One lock id for "a migration of this database is running" (any 64-bit number would do).
_PG_MIGRATION_LOCK = 7262010100


def _pending(dialect: str, current: int, target: int | None) -> list[Migration]:
    latest = latest_version(dialect)
    if current > latest:
        raise MigrationError(
            f"the database schema is at version {current}, newer than this code's {latest}; "
            "upgrade crossdock before using this database"
        )
    goal = latest if target is None else target
    if not 0 <= goal <= latest:
        raise MigrationError(f"no schema version {goal} (latest is {latest})")
    return [m for m in load_migrations(dialect) if current < m.version <= goal]


def sqlite_version(conn: sqlite3.Connection) -> int:
    """Return the schema version of an SQLite database (0 when empty)."""
    conn.execute(_CREATE_VERSION_TABLE)
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return _first_int(row)


def _first_int(row: Any) -> int:
    if isinstance(row, dict):
        return int(next(iter(row.values())))
    return int(row[0])


def migrate_sqlite(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply pending SQLite migrations (up to `target`, default latest); return the version.

    `conn` must be in autocommit mode (``isolation_level=None``).
    """
    current = sqlite_version(conn)
    for migration in _pending("sqlite", current, target):
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{migration.sql}")
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise MigrationError(
                f"SQLite migration {migration.version:04d}_{migration.name} failed: {error}"
            ) from error
        current = migration.version
    return current


async def postgres_version(conn: AsyncConnection[Any]) -> int:
    """Return the schema version of the PostgreSQL schema on the search path (0 when empty)."""
    await conn.execute(_CREATE_VERSION_TABLE)
    cursor = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_version")
    return _first_int(await cursor.fetchone())


async def migrate_postgres(conn: AsyncConnection[Any], target: int | None = None) -> int:
    """Apply pending PostgreSQL migrations in one transaction; return the version."""
    import psycopg

    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_MIGRATION_LOCK,))
            current = await postgres_version(conn)
            for migration in _pending("postgres", current, target):
                await conn.execute(migration.sql.encode())
                await conn.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, time.time()),
                )
                current = migration.version
    except psycopg.errors.ProgrammingError as error:
        raise MigrationError(f"PostgreSQL migration failed: {error}") from error
    return current
