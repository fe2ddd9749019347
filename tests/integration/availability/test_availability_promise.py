"""The order flow's stock port, deferred releases and backorder re-checks on a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from crossdock.availability import AvailabilityReadModel, AvailabilitySettings, Reservations
from crossdock.availability.backorders import STOCK_CHECK, BackorderWatcher
from crossdock.availability.promise import ReservingAvailability
from crossdock.availability.releases import DeferredReleases
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.flows.order_fulfilment.ports import StockReservations
from crossdock.runtime.errors import PermanentError

LevelEvent = Callable[..., Event]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db")
    await opened.start()
    yield opened
    await opened.close()


async def _port(
    store: SQLiteStore, make_level: LevelEvent, **settings: object
) -> tuple[AvailabilityReadModel, Reservations, ReservingAvailability]:
    await store.append_events(
        make_level("A", "east", 5),
        make_level("A", "west", 3),
        make_level("B", "east", 4),
    )
    model = AvailabilityReadModel(store, AvailabilitySettings(**settings))  # type: ignore[arg-type]
    reservations = Reservations(store, model)
    return model, reservations, ReservingAvailability(model, reservations)


async def test_a_hold_takes_the_location_that_can_promise_most_then_the_next(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    _model, reservations, port = await _port(store, make_level)
    assert isinstance(port, StockReservations)
    assert await port.reserve("o-1", {"A": 7, "B": 1}, channel="shopify") == {"A": 7, "B": 1}
    assert await reservations.held("o-1") == {("A", "east"): 5, ("A", "west"): 2, ("B", "east"): 1}
    assert await port.available(["A", "B", "C"]) == {"A": 1, "B": 3, "C": None}

    # Short: what this order could count on is answered, and nothing is held for it.
    assert await port.reserve("o-2", {"A": 2, "B": 1}, channel="shopify") == {"A": 1, "B": 3}
    assert await reservations.held("o-2") == {}
    # Unknown SKU: None, nothing held.
    assert await port.reserve("o-3", {"A": 1, "C": 1}, channel="shopify") == {"A": 1, "C": None}
    assert await reservations.held("o-3") == {}


async def test_a_second_hold_replaces_the_first_and_release_ends_it(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    _model, reservations, port = await _port(store, make_level)
    assert await port.reserve("o-1", {"A": 7}, channel="shopify") == {"A": 7}
    # The edited order wants 3: it fits at one location; the split hold is gone.
    assert await port.reserve("o-1", {"A": 3}, channel="shopify") == {"A": 3}
    assert await reservations.held("o-1") == {("A", "east"): 3}
    assert await port.available(["A"]) == {"A": 5}
    # Its own hold counts as its own: asking for all 8 again fits.
    assert await port.reserve("o-1", {"A": 8}, channel="shopify") == {"A": 8}
    # Short now: the earlier hold ends too (nothing is held on a refusal).
    assert await port.reserve("o-1", {"A": 9}, channel="shopify") == {"A": 8}
    assert await reservations.held("o-1") == {}
    assert await port.reserve("o-1", {"A": 2}, channel="shopify") == {"A": 2}
    await port.release("o-1")
    await port.release("o-1")  # idempotent
    assert await port.available(["A"]) == {"A": 8}


async def test_the_channel_buffer_and_safety_stock_apply_to_holds(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    _, _, port = await _port(
        store, make_level, safety_stock={"*": 1}, channel_buffers={"shopify": 1}
    )
    # A: east 5-2 = 3, west 3-2 = 1 for shopify; 4 + 2 for a channel without a buffer.
    assert await port.reserve("o-1", {"A": 5}, channel="shopify") == {"A": 4}
    assert await port.reserve("o-1", {"A": 5}, channel="b2b") == {"A": 5}


async def test_a_committed_release_waits_for_an_erp_poll_after_it(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    model, reservations, port = await _port(store, make_level)
    asked = 1000.0
    releases = DeferredReleases(store, model, reservations, clock=lambda: asked)
    assert await port.reserve("o-1", {"A": 2}, channel="shopify") == {"A": 2}
    done = await releases.perform({"order_id": "o-1", "reason": "committed"})
    assert done["outcome"] == "deferred"
    assert await releases.pending() == {"o-1": asked}
    assert await releases.settle(asked - 0.5) == []  # a poll that started before the release
    assert await reservations.held("o-1") == {("A", "east"): 2}
    assert await releases.settle(asked + 0.1) == ["o-1"]
    assert await reservations.held("o-1") == {}
    assert await releases.pending() == {}
    nothing = await releases.perform({"order_id": "o-1", "reason": "committed"})
    assert nothing["outcome"] == "nothing_held"


async def test_other_reasons_release_at_once_and_an_erp_without_commitments_waits_for_shipping(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    model, reservations, port = await _port(store, make_level)
    releases = DeferredReleases(store, model, reservations, clock=lambda: 5.0)
    assert await port.reserve("o-1", {"A": 2}, channel="shopify") == {"A": 2}
    await releases.perform({"order_id": "o-1", "reason": "committed"})
    cancelled = await releases.perform({"order_id": "o-1", "reason": "cancelled"})
    assert (cancelled["outcome"], cancelled["units"]) == ("released", 2)
    assert await releases.pending() == {}

    now = [10.0]
    on_hand_only = DeferredReleases(
        store, model, reservations, defer_committed=False, clock=lambda: now[0]
    )
    assert await port.reserve("o-2", {"A": 1}, channel="shopify") == {"A": 1}
    kept = await on_hand_only.perform({"order_id": "o-2", "reason": "committed"})
    assert kept["outcome"] == "until_fulfilled"
    assert await on_hand_only.settle(100.0) == []  # the ERP has not posted the shipment
    assert await reservations.held("o-2") == {("A", "east"): 1}
    await store.append_events(
        Event(
            source="businesscentral",
            type="erp.fulfillment.recorded",
            subject="o-2",
            correlationid="c",
            data={"instance": {"flow": "order_fulfilment", "key": "o-2"}},
        )
    )
    now[0] = 200.0
    assert await on_hand_only.settle(150.0) == []  # that poll started before it was seen
    assert await on_hand_only.pending() == {"o-2": 200.0}
    assert await on_hand_only.awaiting_fulfilment() == {}
    assert await on_hand_only.settle(200.5) == ["o-2"]
    assert await reservations.held("o-2") == {}
    assert await port.reserve("o-3", {"A": 1}, channel="shopify") == {"A": 1}
    await on_hand_only.perform({"order_id": "o-3", "reason": "committed"})
    shipped = await on_hand_only.perform({"order_id": "o-3", "reason": "cancelled"})
    assert shipped["outcome"] == "released"
    assert await on_hand_only.awaiting_fulfilment() == {}
    with pytest.raises(PermanentError, match="order_id"):
        await releases.perform({"reason": "cancelled"})


async def test_stock_rising_for_a_backordered_order_appends_one_stock_check(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    model, _, _ = await _port(store, make_level)
    await model.catch_up()
    watcher = BackorderWatcher(store, model)
    await watcher.start()
    waiting = (
        ("o-1", "backorder", "A"),
        ("o-2", "shipped", "A"),
        ("o-3", "partial_backorder", "A"),
    )
    for order, status, sku in waiting:
        async with store.transaction() as tx:
            await tx.save_flow_state("order_fulfilment", order, {"state": {"status": status}}, 0)
        await store.append_events(
            Event(
                source="crossdock:flow:order_fulfilment",
                type="order.backordered",
                subject=order,
                correlationid="c",
                data={"order_id": order, "short": {sku: 4}},
            )
        )
    assert await watcher.check() == []  # nothing rose yet
    assert set(watcher.waiting) == {"o-1", "o-2", "o-3"}
    await store.append_events(make_level("B", "east", 9))  # another SKU rises: no check
    await model.catch_up()
    assert await watcher.check() == []
    await store.append_events(make_level("A", "east", 2))  # A falls: no check
    await model.catch_up()
    assert await watcher.check() == []
    await store.append_events(make_level("A", "east", 20))
    await model.catch_up()
    # o-3 waits for the remainder of a split or short-picked order.
    assert sorted(await watcher.check()) == ["o-1", "o-3"]
    assert set(watcher.waiting) == {"o-1", "o-3"}  # o-2 left backorder: forgotten
    checks = [s.event for s in await store.read_events(0, limit=100) if s.event.type == STOCK_CHECK]
    assert sorted((e.subject, e.data["order_id"], e.source) for e in checks) == [
        ("o-1", "o-1", "crossdock:hub"),
        ("o-3", "o-3", "crossdock:hub"),
    ]

    # A restarted watcher knows who waits without reading the log again.
    again = BackorderWatcher(store, AvailabilityReadModel(store))
    await again.start()
    assert set(again.waiting) == {"o-1", "o-3"}


async def test_an_order_backordered_just_after_its_stock_rose_is_checked_at_once(
    store: SQLiteStore, make_level: LevelEvent
) -> None:
    model, _, _ = await _port(store, make_level)
    await model.catch_up()
    now = [100.0]
    watcher = BackorderWatcher(store, model, clock=lambda: now[0])
    await watcher.start()
    await store.append_events(make_level("A", "east", 30))  # the rise the flow did not see
    await model.catch_up()
    assert await watcher.check() == []  # nobody waits yet
    for order in ("o-late", "o-much-later"):
        async with store.transaction() as tx:
            await tx.save_flow_state(
                "order_fulfilment", order, {"state": {"status": "backorder"}}, 0
            )
    await store.append_events(
        Event(
            source="crossdock:flow:order_fulfilment",
            type="order.backordered",
            subject="o-late",
            correlationid="c",
            data={"order_id": "o-late", "short": {"A": 1}},
        )
    )
    now[0] += 1.0
    assert await watcher.check() == ["o-late"]
    assert await watcher.check() == []  # once
    await store.append_events(
        Event(
            source="crossdock:flow:order_fulfilment",
            type="order.backordered",
            subject="o-much-later",
            correlationid="c",
            data={"order_id": "o-much-later", "short": {"A": 1}},
        )
    )
    now[0] += 60.0  # long after the rise: the flow saw it when it decided
    assert await watcher.check() == []
