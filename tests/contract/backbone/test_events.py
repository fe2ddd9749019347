"""Event-log contract: append, read in order from a position, by subject, by correlation."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from crossdock.backbone import SqlStore
from crossdock.canonical.envelope import Event


def _event(subject: str, correlation: str, n: int) -> Event:
    return Event(
        source="urn:crossdock:hub",
        type="order.updated",
        subject=subject,
        correlationid=correlation,
        data={"n": n, "total": "19.99"},
    )


async def test_positions_increase_and_reads_resume_from_a_position(store: SqlStore) -> None:
    events = [_event(f"order-{i % 3}", f"corr-{i % 2}", i) for i in range(10)]
    stored = await store.append_events(*events[:4])
    stored += await store.append_events(*events[4:])
    positions = [s.position for s in stored]
    assert positions == sorted(positions)
    assert len(set(positions)) == 10
    page = await store.read_events(limit=4)
    assert [s.event.id for s in page] == [e.id for e in events[:4]]
    rest = await store.read_events(page[-1].position, limit=100)
    assert [s.event.id for s in rest] == [e.id for e in events[4:]]
    assert await store.read_events(stored[-1].position) == []


async def test_events_are_read_by_subject_and_by_correlation(store: SqlStore) -> None:
    events = [_event(f"order-{i % 3}", f"corr-{i % 2}", i) for i in range(9)]
    await store.append_events(*events)
    by_subject = await store.events_by_subject("order-1")
    assert [s.event.data["n"] for s in by_subject] == [1, 4, 7]
    by_correlation = await store.events_by_correlation("corr-0", limit=3)
    assert [s.event.data["n"] for s in by_correlation] == [0, 2, 4]


async def test_an_event_round_trips_exactly(store: SqlStore) -> None:
    original = _event("order-x", "corr-x", 1).caused(
        type="order.priced", source="urn:crossdock:hub", data={"total": "12.30", "qty": 2}
    )
    (stored,) = await store.append_events(original)
    (read,) = await store.read_events()
    assert read.event == original == stored.event
    assert Decimal(read.event.data["total"]) == Decimal("12.30")


async def test_appending_an_event_id_twice_stores_it_once(store: SqlStore) -> None:
    event = _event("s", "c", 1)
    (first,) = await store.append_events(event)
    (again,) = await store.append_events(event)
    assert again.position == first.position
    assert len(await store.read_events()) == 1


async def test_a_reader_following_positions_misses_no_concurrent_append(store: SqlStore) -> None:
    writers, per_writer = 8, 15
    appended: set[str] = set()
    seen: list[str] = []

    async def writer(n: int) -> None:
        for i in range(per_writer):
            (stored,) = await store.append_events(_event(f"w{n}", "c", i))
            appended.add(stored.event.id)

    async def reader() -> None:
        position = 0
        while len(seen) < writers * per_writer:
            page = await store.read_events(position, limit=7)
            for item in page:
                assert item.position > position
                position = item.position
                seen.append(item.event.id)
            await asyncio.sleep(0)

    await asyncio.wait_for(
        asyncio.gather(reader(), *(writer(n) for n in range(writers))), timeout=20
    )
    assert len(seen) == len(set(seen)) == writers * per_writer
    assert set(seen) == appended
