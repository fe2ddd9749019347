"""What the runtime reads from the store: a claim's enqueue time and the inbox backlog."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from crossdock.backbone import INBOX_COUNT_STATES, Command, Delivery, InboxStatus, SqlStore
from crossdock.runtime.clock import ManualClock


async def test_a_claim_carries_when_its_command_was_enqueued(
    store: SqlStore, clock: ManualClock
) -> None:
    enqueued_at = clock.now()
    await store.enqueue(Command("k-1", "netsuite", "sales_order.create", {"n": 1}))
    await store.enqueue(
        Command("k-2", "netsuite", "sales_order.create"), Command("k-3", "netsuite", "x")
    )
    clock.advance(42.5)
    claims = await store.claim("w-1", limit=3, lease_seconds=10)
    assert len(claims) == 3
    for claim in claims:
        assert claim.enqueued_at == enqueued_at
    record = await store.get_command(claims[0].command_id)
    assert record is not None
    assert claims[0].enqueued_at == record.enqueued_at

    extended = await store.extend(claims[0], lease_seconds=30)
    assert extended.enqueued_at == enqueued_at

    clock.advance(11)  # the other two leases ran out: a takeover keeps the enqueue time
    taken = await store.claim("w-2", limit=3, lease_seconds=10)
    assert {c.command_id for c in taken} == {c.command_id for c in claims[1:]}
    assert all(c.enqueued_at == enqueued_at for c in taken)


async def test_a_replay_is_enqueued_when_it_is_replayed(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(Command("k-dead", "shipstation", "shipment.create"))
    (claim,) = await store.claim("w", limit=1)
    await store.fail_permanent(claim, "422", reason="bad address")
    clock.advance(3600)
    replayed_at = clock.now()
    replay = await store.replay(claim.command_id, actor="ops")
    (again,) = await store.claim("w", limit=1)
    assert again.command_id == replay.command_id
    assert again.replay_of == claim.command_id
    assert again.enqueued_at == replayed_at


async def test_inbox_counts_by_source_and_state(store: SqlStore, clock: ManualClock) -> None:
    assert await store.inbox_counts() == {}
    for i in range(5):
        await store.record_delivery(Delivery("shopify:acme", f"s-{i}", b"{}"))
    for i in range(2):
        await store.record_delivery(Delivery("edi:partner", f"e-{i}", b"ISA"))
    await store.record_delivery(Delivery("shopify:acme", "s-0", b"{}"))  # a duplicate

    claimed = await store.claim_inbox("decoder", limit=4, lease_seconds=30)
    assert len(claimed) == 4
    await store.mark_inbox(claimed[0], InboxStatus.DECODED)
    await store.mark_inbox(claimed[1], InboxStatus.DEAD, reason="malformed")
    counts = await store.inbox_counts()
    assert set(counts) == {"shopify:acme", "edi:partner"}
    for by_state in counts.values():
        assert tuple(sorted(by_state)) == tuple(sorted(INBOX_COUNT_STATES))
    assert sum(sum(by_state.values()) for by_state in counts.values()) == 7
    totals = {state: sum(c[state] for c in counts.values()) for state in INBOX_COUNT_STATES}
    assert totals == {"received": 3, "claimed": 2, "decoded": 1, "dead": 1}
    assert counts["edi:partner"]["received"] + counts["edi:partner"]["claimed"] == 2

    clock.advance(31)  # the decoder's lease ran out: its rows wait for a decoder again
    later = await store.inbox_counts()
    assert sum(c["claimed"] for c in later.values()) == 0
    assert sum(c["received"] for c in later.values()) == 5

    await store.purge_decoded_inbox(timedelta(seconds=1))
    after_purge = await store.inbox_counts()
    assert sum(c["decoded"] for c in after_purge.values()) == 0
    assert sum(c["dead"] for c in after_purge.values()) == 1


async def test_a_hand_built_claim_has_no_enqueue_time(store: SqlStore) -> None:
    await store.enqueue(Command("k-h", "netsuite", "x"))
    (claim,) = await store.claim("w", limit=1)
    bare = replace(claim, enqueued_at=None)  # the constructor's default keeps old callers working
    assert bare.enqueued_at is None
    await store.complete(bare)
    record = await store.get_command(claim.command_id)
    assert record is not None
    assert record.finished_at is not None
