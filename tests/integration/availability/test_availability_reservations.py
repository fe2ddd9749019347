"""Reservations against available-to-promise: never more than there is, under contention."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from crossdock.availability import (
    AvailabilityReadModel,
    AvailabilitySettings,
    Line,
    Reservations,
    UnknownStock,
)
from crossdock.backbone import SqlStore
from crossdock.canonical.envelope import Event

StoreFactory = Callable[[], SqlStore]
LevelEvent = Callable[..., Event]


async def test_concurrent_reservations_never_exceed_the_stock(
    stores: StoreFactory, make_level: LevelEvent
) -> None:
    """1,000 orders race for 100 units through two models (two pools on PostgreSQL)."""
    pairs: list[tuple[AvailabilityReadModel, Reservations]] = []
    for index in range(2):
        store = stores()
        if index == 0 or store is not pairs[0][0].store:
            await store.start()
        if index == 0:
            await store.append_events(make_level("SKU-1", "WH1", 100))
        model = AvailabilityReadModel(store)
        await model.start()
        pairs.append((model, Reservations(store, model)))
    results = await asyncio.gather(
        *(pairs[i % 2][1].reserve(f"order-{i}", [Line("SKU-1", "WH1", 1)]) for i in range(1000))
    )
    accepted = [r for r in results if r.accepted]
    assert len(accepted) == 100
    assert all(r.short[0][1] == 0 for r in results if not r.accepted)
    assert await pairs[1][1].reserved("SKU-1", "WH1") == 100
    await pairs[0][1].refresh()
    found = pairs[0][0].lookup("SKU-1", "WH1")
    assert found is not None
    assert found.reserved == 100
    assert found.available_to_promise == 0


async def test_reservation_is_all_or_nothing_idempotent_and_released(
    stores: StoreFactory, make_level: LevelEvent
) -> None:
    store = stores()
    await store.start()
    await store.append_events(make_level("A", "WH1", 5), make_level("B", "WH1", 2))
    model = AvailabilityReadModel(store, AvailabilitySettings(safety_stock={"A": 1}))
    await model.start()
    reservations = Reservations(store, model)

    short = await reservations.reserve("o-1", [Line("A", "WH1", 2), Line("B", "WH1", 3)])
    assert not short.accepted
    assert short.short == ((Line("B", "WH1", 3), 2),)
    assert await reservations.reserved("A", "WH1") == 0  # nothing held for a refused order

    assert (await reservations.reserve("o-1", [Line("A", "WH1", 2), Line("B", "WH1", 2)])).accepted
    assert (await reservations.reserve("o-1", [Line("A", "WH1", 2)])).accepted  # same again
    assert await reservations.reserved("A", "WH1") == 2
    refused = await reservations.reserve("o-2", [Line("A", "WH1", 3)])  # 5 - 1 safety - 2
    assert refused.short == ((Line("A", "WH1", 3), 2),)
    found = model.lookup("A", "WH1")
    assert found is not None
    assert found.available_to_promise == 2

    assert await reservations.release("o-1") == 4
    assert await reservations.release("o-1") == 0
    assert (await reservations.reserve("o-2", [Line("A", "WH1", 3)])).accepted
    with pytest.raises(UnknownStock):
        await reservations.reserve("o-3", [Line("NOPE", "WH1", 1)])


async def test_cancellation_and_shipment_events_release(
    stores: StoreFactory, make_level: LevelEvent
) -> None:
    store = stores()
    await store.start()
    await store.append_events(make_level("A", "WH1", 10))
    model = AvailabilityReadModel(store)
    await model.start()
    reservations = Reservations(store, model)
    assert (await reservations.reserve("order-1", [Line("A", "WH1", 3)])).accepted
    assert (await reservations.reserve("order-2", [Line("A", "WH1", 4)])).accepted

    def event(type_: str, data: dict[str, object], subject: str | None = None) -> Event:
        return Event(source="test", type=type_, subject=subject, correlationid="c", data=data)

    assert await reservations.release_for(event("order.updated", {"id": "order-1"})) == 0
    cancelled = event("order.cancelled", {"id": "order-1"})
    assert await reservations.release_for(cancelled) == 3
    assert await reservations.release_for(cancelled) == 0  # replayed: harmless
    shipped = event("shipment.created", {"order": {"id": "order-2"}, "carrier": "UPS"})
    assert await reservations.release_for(shipped) == 4
    assert await reservations.reserved("A", "WH1") == 0
