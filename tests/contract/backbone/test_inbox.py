"""Inbox contract: durable, deduplicated deliveries and their decoding."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from crossdock.backbone import Delivery, InboxStatus, LeaseLost, SqlStore, StoreLocked
from crossdock.runtime.clock import ManualClock

from .conftest import Backend


def _delivery(key: str, body: bytes = b'{"id": 1}') -> Delivery:
    return Delivery("shopify:acme", key, body, {"x-shopify-topic": "orders/create"}, f"corr-{key}")


async def test_a_redelivery_is_a_duplicate_of_the_same_row(store: SqlStore) -> None:
    first = await store.record_delivery(_delivery("d-1"))
    again = await store.record_delivery(_delivery("d-1", b"other bytes"))
    assert first.new
    assert not again.new
    assert again.inbox_id == first.inbox_id
    item = await store.get_inbox(first.inbox_id)
    assert item is not None
    assert item.body == b'{"id": 1}'  # the duplicate changed nothing
    assert item.headers == {"x-shopify-topic": "orders/create"}
    assert item.correlation_id == "corr-d-1"
    assert item.status is InboxStatus.RECEIVED


async def test_the_same_key_from_another_source_is_a_new_delivery(store: SqlStore) -> None:
    one = await store.record_delivery(Delivery("shopify:a", "k", b"1"))
    two = await store.record_delivery(Delivery("shopify:b", "k", b"2"))
    assert one.new
    assert two.new
    assert one.inbox_id != two.inbox_id


async def test_a_delivery_without_correlation_id_gets_one(store: SqlStore) -> None:
    record = await store.record_delivery(Delivery("edi:partner", "ISA-1", b"ISA*00*"))
    item = await store.get_inbox(record.inbox_id)
    assert item is not None
    assert item.correlation_id


async def test_concurrent_copies_never_both_count_as_new(store: SqlStore) -> None:
    deliveries = [_delivery(f"c-{i % 10}") for i in range(100)]
    records = await asyncio.gather(*(store.record_delivery(d) for d in deliveries))
    assert sum(r.new for r in records) == 10
    by_key: dict[str, set[int]] = {}
    for delivery, record in zip(deliveries, records, strict=True):
        by_key.setdefault(delivery.dedupe_key, set()).add(record.inbox_id)
    assert all(len(ids) == 1 for ids in by_key.values())


async def test_concurrent_copies_through_two_stores_never_both_count_as_new(
    backend: Backend, store: SqlStore, clock: ManualClock
) -> None:
    other = backend.build(clock)
    if backend.kind == "sqlite":  # one SQLite file is held by one store: it refuses clearly
        with pytest.raises(StoreLocked, match="unsafe"):
            await other.start()
        return
    await other.start()
    try:
        deliveries = [_delivery(f"two-{i}") for i in range(30)]
        records = await asyncio.gather(
            *(s.record_delivery(d) for d in deliveries for s in (store, other))
        )
    finally:
        await other.close()
    assert sum(r.new for r in records) == 30


async def test_a_recorded_delivery_survives_a_restart(
    backend: Backend, store: SqlStore, clock: ManualClock
) -> None:
    record = await store.record_delivery(_delivery("durable"))
    await store.close()
    reopened = backend.build(clock)
    await reopened.start()
    try:
        again = await reopened.record_delivery(_delivery("durable"))
        item = await reopened.get_inbox(record.inbox_id)
    finally:
        await reopened.close()
    assert not again.new
    assert again.inbox_id == record.inbox_id
    assert item is not None
    assert item.body == b'{"id": 1}'


async def test_the_decoder_settles_rows_and_keeps_malformed_ones(
    store: SqlStore, clock: ManualClock
) -> None:
    good = await store.record_delivery(_delivery("good"))
    bad = await store.record_delivery(_delivery("bad", b"{not json"))
    claimed = await store.claim_inbox("decoder-1", limit=10)
    assert [i.inbox_id for i in claimed] == [good.inbox_id, bad.inbox_id]
    assert await store.claim_inbox("decoder-2") == []  # both are leased
    await store.mark_inbox(claimed[0], InboxStatus.DECODED)
    await store.mark_inbox(claimed[1], InboxStatus.DEAD, "malformed JSON at byte 1")
    dead = await store.list_inbox(InboxStatus.DEAD)
    assert [(d.inbox_id, d.body, d.reason) for d in dead] == [
        (bad.inbox_id, b"{not json", "malformed JSON at byte 1")
    ]
    assert [d.inbox_id for d in await store.list_inbox(InboxStatus.DECODED)] == [good.inbox_id]
    assert await store.claim_inbox("decoder-1") == []


async def test_an_expired_inbox_claim_is_taken_over_and_the_late_mark_refused(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.record_delivery(_delivery("slow"))
    (first,) = await store.claim_inbox("decoder-1", lease_seconds=5)
    clock.advance(6)
    (second,) = await store.claim_inbox("decoder-2", lease_seconds=5)
    assert second.inbox_id == first.inbox_id
    assert second.token == first.token + 1
    with pytest.raises(LeaseLost):
        await store.mark_inbox(first, InboxStatus.DECODED)
    await store.mark_inbox(second, InboxStatus.DECODED)
    item = await store.get_inbox(first.inbox_id)
    assert item is not None
    assert item.status is InboxStatus.DECODED


async def test_an_inbox_row_cannot_be_settled_back_to_received(store: SqlStore) -> None:
    await store.record_delivery(_delivery("r"))
    (item,) = await store.claim_inbox("decoder")
    with pytest.raises(ValueError, match="decoded or dead"):
        await store.mark_inbox(item, InboxStatus.RECEIVED)


async def test_retention_purges_old_decoded_rows_and_keeps_dead_ones(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.record_delivery(_delivery("old-good"))
    await store.record_delivery(_delivery("old-bad"))
    good, bad = await store.claim_inbox("decoder", limit=2)
    await store.mark_inbox(good, InboxStatus.DECODED)
    await store.mark_inbox(bad, InboxStatus.DEAD, "malformed")
    clock.advance(7 * 86400)
    await store.record_delivery(_delivery("fresh"))
    (fresh,) = await store.claim_inbox("decoder")
    await store.mark_inbox(fresh, InboxStatus.DECODED)
    assert await store.purge_decoded_inbox(timedelta(days=3)) == 1
    assert await store.get_inbox(good.inbox_id) is None
    assert await store.get_inbox(bad.inbox_id) is not None
    assert await store.get_inbox(fresh.inbox_id) is not None
