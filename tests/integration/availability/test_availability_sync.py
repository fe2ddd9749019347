"""Stock sync to Shopify: coalesced ``inventory.set`` commands, echo suppression, freshness SLO."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crossdock.availability import (
    AvailabilityReadModel,
    AvailabilitySettings,
    ChannelSync,
    ChannelTarget,
    FreshnessSLO,
    Line,
    Reservations,
)
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.runtime.clock import ManualClock

LevelEvent = Callable[..., Event]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db", clock=ManualClock(START))
    await opened.start()
    yield opened
    await opened.close()


def build(store: SQLiteStore, clock: ManualClock) -> tuple[AvailabilityReadModel, ChannelSync]:
    settings = AvailabilitySettings(
        latency_target=timedelta(seconds=60),
        channel_buffers={"web": 1},
        ignored_sources=frozenset({"shopify"}),
    )
    model = AvailabilityReadModel(store, settings, clock=clock)
    target = ChannelTarget("shopify", "web", items={"SKU-1": 111}, locations={"WH1": 9})
    return model, ChannelSync(store, model, target, clock=clock)


async def test_changes_within_a_window_become_one_command_latest_wins(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    clock = ManualClock(START + timedelta(seconds=1))
    model, sync = build(store, clock)
    await store.append_events(
        make_level("SKU-1", "WH1", 10, at=START),
        make_level("SKU-1", "WH1", 7, at=START + timedelta(milliseconds=300)),
        make_level("SKU-1", "WH1", 8, at=START + timedelta(milliseconds=100)),  # late, older
        make_level("SKU-2", "WH1", 5, at=START),  # not mapped to the channel
    )
    await model.catch_up()
    commands = await sync.flush()
    assert [c.payload["quantity"] for c in commands] == [7 - 1]
    command = commands[0]
    assert command.kind == "inventory.set"
    assert command.destination == "shopify"
    assert (command.payload["inventory_item_id"], command.payload["location_id"]) == (111, 9)
    assert "change_from" not in command.payload
    stored = await store.find_command(command.idempotency_key)
    assert stored is not None
    assert sync.counts.unmapped == 1

    reservations = Reservations(store, model)
    assert (await reservations.reserve("o-1", [Line("SKU-1", "WH1", 2)])).accepted
    second = await sync.flush()
    assert [(c.payload["quantity"], c.payload["change_from"]) for c in second] == [(4, 6)]
    assert second[0].partition_key == command.partition_key
    assert await sync.flush() == []  # nothing changed since


async def test_our_echo_is_suppressed_and_measures_freshness(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    clock = ManualClock(START)
    model, sync = build(store, clock)
    await store.append_events(make_level("SKU-1", "WH1", 10, at=START))
    await model.catch_up()
    assert [c.payload["quantity"] for c in await sync.flush()] == [9]
    echo_at = START + timedelta(seconds=2)
    await store.append_events(
        make_level("SKU-1", "WH1", 9, at=echo_at, source="shopify"),  # our write, back
        make_level("SKU-1", "WH1", 9, at=echo_at, source="shopify"),  # redelivered
    )
    await model.catch_up()
    found = model.lookup("SKU-1", "WH1")
    assert found is not None
    assert found.source_available == 10  # the echo is never an input
    assert await sync.flush() == []  # so nothing is pushed back: no loop
    assert sync.counts.echoes_suppressed == 2
    report = sync.slo.report()
    assert (report.measured, report.met, report.ok) == (1, 1, True)
    sample = sync.slo.registry.get_sample_value(
        "crossdock_availability_freshness_seconds_sum", {"destination": "shopify"}
    )
    assert sample == 2.0

    await store.append_events(make_level("SKU-1", "WH1", 50, at=echo_at, source="shopify"))
    await model.catch_up()
    assert sync.counts.foreign_changes == 1


def test_error_budget_evaluation() -> None:
    slo = FreshnessSLO(timedelta(seconds=60), objective_percent=99.0)
    for _ in range(198):
        slo.observe("shopify", 1.0)
    slo.observe("shopify", 61.0)
    report = slo.report()
    assert report.ok
    assert report.budget_spent_percent == pytest.approx(100 * (100 - 100 * 198 / 199))
    slo.observe("shopify", 90.0)
    assert slo.report().achieved_percent == 99.0  # exactly the objective: still met
    slo.observe("shopify", 90.0)
    assert not slo.report().ok
    assert slo.report().budget_spent_percent > 100
