"""Named SQL and migration files: complete, consistent and shipped inside the package."""

from __future__ import annotations

import pytest

from crossdock.backbone._sql import latest_version, load_migrations, load_queries

DIALECTS = ["sqlite", "postgres"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_queries_load_by_name(dialect: str) -> None:
    queries = load_queries(dialect)
    assert "claim_commands" in queries
    assert "insert_inbox" in queries
    assert all(sql and not sql.endswith(";") for sql in queries.values())


def test_every_sqlite_query_has_a_postgres_twin() -> None:
    # PostgreSQL may have more (its one-statement group commits), never fewer.
    assert set(load_queries("sqlite")) <= set(load_queries("postgres"))


def test_the_claim_locks_rows_on_postgres_and_starts_immediate_on_sqlite() -> None:
    assert "FOR UPDATE SKIP LOCKED" in load_queries("postgres")["claim_commands"]
    assert "RETURNING" in load_queries("sqlite")["claim_commands"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_migrations_are_numbered_without_gaps(dialect: str) -> None:
    migrations = load_migrations(dialect)
    assert [m.version for m in migrations] == list(range(1, latest_version(dialect) + 1))
    assert all(m.sql.strip() for m in migrations)


def test_both_dialects_name_their_migrations_alike() -> None:
    assert [m.name for m in load_migrations("sqlite")] == [
        m.name for m in load_migrations("postgres")
    ]
