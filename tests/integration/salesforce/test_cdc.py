"""Change Data Capture over CometD: restart without loss or repeat, gaps, echoes, retention."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crossdock.backbone import SqlStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.connectorkit import RateLimitedError
from crossdock.connectors.salesforce import (
    BackboneReplayStore,
    ChangeSubscriber,
    InMemoryReplayStore,
    ReplayStore,
    SalesforceConnector,
)
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import ConnectorFactory, admin

KEY = "Shopify_Customer_Id__c"


class CrashError(Exception):
    """The process dies here."""


class CrashingStore:
    """Commits through to ``inner`` until the ``crash_at``-th commit, which dies first."""

    def __init__(self, inner: ReplayStore, crash_at: int) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.commits = 0

    async def load(self, channel: str) -> Any:
        return await self.inner.load(channel)

    async def commit(self, channel: str, replay_id: Any, events: Sequence[Event]) -> None:
        self.commits += 1
        if self.commits == self.crash_at:
            raise CrashError
        await self.inner.commit(channel, replay_id, events)


@pytest.fixture
def sales_ui(make_connector: ConnectorFactory) -> SalesforceConnector:
    """Another client of the org: a sales rep's screen (its writes are not echoes)."""
    return make_connector(client_id="sales-rep-ui")


async def _poll_until(subscriber: ChangeSubscriber, handled: int) -> None:
    for _ in range(20):
        if subscriber.stats.handled >= handled:
            return
        await subscriber.poll()
    raise AssertionError(f"only {subscriber.stats.handled} change events arrived")


@pytest.fixture(
    params=[
        pytest.param("memory", id="memory"),
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def durable(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[ReplayStore, SqlStore | None]]:
    """A replay store: in memory, or in the backbone (SQLite file, or a fresh PostgreSQL schema)."""
    if request.param == "memory":
        yield InMemoryReplayStore(), None
        return
    store: SqlStore
    schema = f"cdsf_{uuid.uuid4().hex[:16]}"
    url = ""
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    else:
        from crossdock.backbone.postgres import PostgresStore

        url = request.getfixturevalue("postgres_url")
        store = PostgresStore(url, schema=schema)
    await store.start()
    try:
        yield BackboneReplayStore(store), store
    finally:
        await store.close()
        if url:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


async def test_a_restart_mid_stream_loses_and_repeats_nothing(
    connector: SalesforceConnector,
    sales_ui: SalesforceConnector,
    durable: tuple[ReplayStore, SqlStore | None],
) -> None:
    replay_store, backbone = durable
    first = ChangeSubscriber(connector, CrashingStore(replay_store, crash_at=5), poll_timeout=2)
    await first.open()
    for n in range(10):
        await sales_ui.upsert("Account", KEY, f"acc-{n}", {"Name": f"Account {n}"})

    with pytest.raises(CrashError):
        await _poll_until(first, 10)
    assert first.stats.handled == 4

    second = ChangeSubscriber(connector, replay_store, poll_timeout=2)
    await _poll_until(second, 6)
    await first.close()
    await second.close()

    if isinstance(replay_store, InMemoryReplayStore):
        events = replay_store.events
    else:
        assert backbone is not None
        events = [stored.event for stored in await backbone.read_events(limit=100)]
    names = [e.data["account"]["name"] for e in events]
    assert names == [f"Account {n}" for n in range(10)]
    assert all(e.type == "customer.upserted" for e in events)
    assert all(e.data["kind"] == "business" for e in events)


async def test_a_session_that_expires_mid_stream_is_renewed_without_loss(
    connector: SalesforceConnector,
    sales_ui: SalesforceConnector,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()
    for n in range(2):
        await sales_ui.upsert("Account", KEY, f"s-{n}", {"Name": f"Before {n}"})
    await _poll_until(subscriber, 2)

    await admin(raw, server, "salesforce/sessions/expire")
    for n in range(2):
        await sales_ui.upsert("Account", KEY, f"t-{n}", {"Name": f"After {n}"})
    await _poll_until(subscriber, 4)
    await subscriber.close()

    names = [e.data["account"]["name"] for e in store.events]
    assert names == ["Before 0", "Before 1", "After 0", "After 1"]


async def test_a_gap_event_makes_the_subscriber_re_read_the_record(
    connector: SalesforceConnector, sales_ui: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    created = await sales_ui.upsert("Account", KEY, "g-1", {"Name": "Before"})
    assert created.id is not None
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()

    sim.gap("Account", [created.id], "GAP_UPDATE", {"Name": "After"})
    await _poll_until(subscriber, 1)
    await subscriber.close()

    assert subscriber.stats.gaps == 1
    assert [e.data["account"]["name"] for e in store.events] == ["After"]
    assert store.events[0].subject == f"salesforce:Account:{created.id}"


async def test_the_hubs_own_writes_are_dropped_as_echoes(
    connector: SalesforceConnector, sales_ui: SalesforceConnector
) -> None:
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()

    await connector.upsert("Account", KEY, "echo-1", {"Name": "Written by the hub"})
    await sales_ui.upsert("Account", KEY, "echo-2", {"Name": "Written by a person"})
    await _poll_until(subscriber, 2)
    await subscriber.close()

    assert subscriber.stats.echoes == 1
    assert [e.data["account"]["name"] for e in store.events] == ["Written by a person"]
    assert len(store.positions) == 1  # the echo still moved the replay id


async def test_a_contact_change_yields_its_account_with_contacts(
    connector: SalesforceConnector, sales_ui: SalesforceConnector
) -> None:
    await sales_ui.upsert("Account", KEY, "k-1", {"Name": "Kontor AG"})
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()

    await sales_ui.upsert(
        "Contact",
        KEY,
        "k-1-c1",
        {"LastName": "Brandt", "Email": "brandt@kontor.example", "Account": {KEY: "k-1"}},
    )
    await _poll_until(subscriber, 1)
    await subscriber.close()

    (event,) = store.events
    assert event.data["account"]["name"] == "Kontor AG"
    assert [c["last_name"] for c in event.data["contacts"]] == ["Brandt"]


async def test_a_position_past_the_retention_falls_back_to_all_retained(
    connector: SalesforceConnector, sales_ui: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()
    await sales_ui.upsert("Account", KEY, "r-1", {"Name": "Old"})
    await _poll_until(subscriber, 1)
    await subscriber.close()
    sim.clock.advance(73 * 3600)  # the stored replay id is now past the 72-hour retention
    await sales_ui.upsert("Account", KEY, "r-2", {"Name": "New"})
    sim.changes.prune()

    resumed = ChangeSubscriber(connector, store, poll_timeout=2)
    await _poll_until(resumed, 1)
    await resumed.close()

    assert resumed.stats.resubscribed_from_all == ["/data/AccountChangeEvent"]
    assert [e.data["account"]["name"] for e in store.events] == ["Old", "New"]


async def test_a_re_read_refused_by_the_daily_limit_waits_and_loses_nothing(
    connector: SalesforceConnector,
    sales_ui: SalesforceConnector,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    clock: ManualClock,
) -> None:
    store = InMemoryReplayStore()
    subscriber = ChangeSubscriber(connector, store, poll_timeout=2)
    await subscriber.open()
    for n in range(3):
        await sales_ui.upsert("Account", KEY, f"l-{n}", {"Name": f"Limited {n}"})
    await admin(raw, server, "salesforce/limits", {"limit": 100, "used": 100})

    with pytest.raises(RateLimitedError):
        await subscriber.poll()
    assert store.events == []

    # A day later on both clocks: the allocation is back.
    await admin(raw, server, "salesforce/clock", {"advance_s": 86_401})
    clock.advance(86_401)
    await _poll_until(subscriber, 3)
    await subscriber.close()

    assert [e.data["account"]["name"] for e in store.events] == [
        "Limited 0",
        "Limited 1",
        "Limited 2",
    ]
