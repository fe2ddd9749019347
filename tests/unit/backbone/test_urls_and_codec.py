"""Choosing a store from a URL, and the JSON and time codec."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from crossdock.backbone import StoreError, store_from_url
from crossdock.backbone._codec import dump_json, load_json, to_dt, to_ts
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.postgres.store import _redact
from crossdock.backbone.sqlite import SQLiteStore


def test_urls_name_their_backend(tmp_path: Path) -> None:
    relative = store_from_url("sqlite:///hub.db")
    assert isinstance(relative, SQLiteStore)
    assert relative.path == Path("hub.db")
    absolute = store_from_url(f"sqlite:///{tmp_path}/hub.db")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == tmp_path / "hub.db"
    plain = store_from_url(str(tmp_path / "plain.db"))
    assert isinstance(plain, SQLiteStore)
    postgres = store_from_url("postgresql://hub@db.internal/hub")
    assert isinstance(postgres, PostgresStore)


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSDOCK_DATABASE_URL", "postgres://hub@db/hub")
    assert isinstance(store_from_url(), PostgresStore)
    monkeypatch.delenv("CROSSDOCK_DATABASE_URL")
    default = store_from_url()
    assert isinstance(default, SQLiteStore)
    assert default.path == Path("crossdock.db")


def test_unknown_schemes_and_bad_schemas_are_refused() -> None:
    with pytest.raises(StoreError, match="unsupported"):
        store_from_url("mysql://hub@db/hub")
    with pytest.raises(StoreError, match="file path"):
        store_from_url("sqlite://")
    with pytest.raises(ValueError, match="identifier"):
        PostgresStore("postgresql://h/db", schema="x; DROP TABLE y")
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore("x.db", synchronous="OFF")  # type: ignore[arg-type]


def test_passwords_are_redacted_from_urls() -> None:
    assert _redact("postgresql://hub:s3cret@db:5432/hub") == "postgresql://hub:***@db:5432/hub"
    assert _redact("postgresql://hub@db/hub") == "postgresql://hub@db/hub"


def test_json_keeps_money_exact() -> None:
    text = dump_json({"total": Decimal("10.10"), "rate": 0.1, "name": "Zoë"})
    assert text == '{"total":"10.10","rate":0.1,"name":"Zoë"}'
    decoded = load_json(text)
    assert decoded["rate"] == Decimal("0.1")
    assert decoded["total"] == "10.10"
    with pytest.raises(TypeError, match="set"):
        dump_json({"bad": {1}})


def test_times_round_trip_and_must_be_aware() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    assert to_dt(to_ts(moment)) == moment
    with pytest.raises(ValueError, match="timezone-aware"):
        to_ts(datetime(2026, 3, 1, 12, 30))
