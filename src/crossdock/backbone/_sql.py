"""Named SQL and numbered migrations, read from the package's ``sql/<dialect>/`` files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

_NAME = re.compile(r"^-- name: ([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema migration: version n takes the schema from n-1 to n."""

    version: int
    name: str
    sql: str


def _dialect_dir(dialect: str) -> Traversable:
    return resources.files("crossdock.backbone").joinpath("sql", dialect)


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """Return the named queries of a dialect (``sqlite`` or ``postgres``) by name."""
    text = _dialect_dir(dialect).joinpath("queries.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice in {dialect}/queries.sql")
        queries[name] = body.strip().rstrip(";").strip()
    return queries


@cache
def load_migrations(dialect: str) -> tuple[Migration, ...]:
    """Return a dialect's migrations in version order (1, 2, ... without gaps)."""
    found: list[Migration] = []
    for entry in _dialect_dir(dialect).joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(f"{dialect} migrations skip version {expected}")
    return tuple(found)


def latest_version(dialect: str) -> int:
    """Return the schema version the code expects."""
    return len(load_migrations(dialect))
