"""Links and flow-state contract, and the one transaction that commits a flow step whole."""

from __future__ import annotations

import asyncio

import pytest

from crossdock.backbone import (
    Command,
    Delivery,
    InboxStatus,
    LinkConflict,
    SqlStore,
    StaleFlowState,
)
from crossdock.canonical.envelope import Event


async def test_links_are_unique_both_ways_and_looked_up_either_way(store: SqlStore) -> None:
    await store.link("cust-1", "salesforce", "003A")
    await store.link("cust-1", "netsuite", "77")
    await store.link("cust-1", "salesforce", "003A")  # identical: a no-op
    assert await store.external_id("cust-1", "salesforce") == "003A"
    assert await store.canonical_id("netsuite", "77") == "cust-1"
    assert await store.canonical_id("netsuite", "78") is None
    assert [(x.system, x.external_id) for x in await store.links_of("cust-1")] == [
        ("netsuite", "77"),
        ("salesforce", "003A"),
    ]
    with pytest.raises(LinkConflict, match="already linked"):
        await store.link("cust-1", "salesforce", "003B")  # one external id per system
    with pytest.raises(LinkConflict, match="already linked"):
        await store.link("cust-2", "salesforce", "003A")  # one canonical id per external id
    assert await store.external_id("cust-1", "salesforce") == "003A"
    assert await store.external_id("cust-2", "salesforce") is None


async def test_concurrent_conflicting_links_leave_exactly_one(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.link(f"cust-{i}", "shopify", "gid-1") for i in range(5)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, LinkConflict) for r in results if isinstance(r, BaseException))
    assert await store.canonical_id("shopify", "gid-1") == winners[0].canonical_id


async def test_flow_state_versions_move_on_each_save(store: SqlStore) -> None:
    assert await store.get_flow_state("fulfilment", "order-1") is None
    async with store.transaction() as tx:
        saved = await tx.save_flow_state("fulfilment", "order-1", {"step": "new"}, 0)
    assert saved.version == 1
    async with store.transaction() as tx:
        current = await tx.get_flow_state("fulfilment", "order-1")
        assert current is not None
        await tx.save_flow_state("fulfilment", "order-1", {"step": "sent"}, current.version)
    state = await store.get_flow_state("fulfilment", "order-1")
    assert state is not None
    assert (state.state, state.version) == ({"step": "sent"}, 2)


async def test_a_flow_step_commits_state_commands_events_links_and_inbox_together(
    store: SqlStore,
) -> None:
    record = await store.record_delivery(Delivery("shopify", "d-1", b"{}"))
    (item,) = await store.claim_inbox("decoder")
    event = Event(source="shopify", type="order.created", subject="o-1", correlationid="c")
    async with store.transaction() as tx:
        await tx.save_flow_state("fulfilment", "o-1", {"step": "ordered"}, 0)
        enqueued = await tx.enqueue(Command("o-1:create-so", "netsuite", "sales_order.create"))
        await tx.append_events(event)
        await tx.link("o-1", "shopify", "gid://Order/1")
        await tx.mark_inbox(item, InboxStatus.DECODED)
    assert enqueued[0].created
    assert (await store.queue_depth()) == {"netsuite": 1}
    assert [s.event.id for s in await store.read_events()] == [event.id]
    assert await store.canonical_id("shopify", "gid://Order/1") == "o-1"
    decoded = await store.get_inbox(record.inbox_id)
    assert decoded is not None
    assert decoded.status is InboxStatus.DECODED


async def test_a_stale_flow_state_rolls_back_the_whole_step(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.save_flow_state("inventory", "sku-1", {"on_hand": 5}, 0)
    record = await store.record_delivery(Delivery("shipstation", "d-2", b"{}"))
    (item,) = await store.claim_inbox("decoder")
    event = Event(source="hub", type="inventory.changed", subject="sku-1", correlationid="c")

    async def step() -> None:
        async with store.transaction() as tx:
            await tx.enqueue(Command("sku-1:push", "shopify", "inventory.set"))
            await tx.append_events(event)
            await tx.link("sku-1", "shopify", "inv-1")
            await tx.mark_inbox(item, InboxStatus.DECODED)
            await tx.save_flow_state("inventory", "sku-1", {"on_hand": 4}, 0)  # stale

    with pytest.raises(StaleFlowState):
        await step()
    assert await store.queue_depth() == {}
    assert await store.read_events() == []
    assert await store.canonical_id("shopify", "inv-1") is None
    still = await store.get_inbox(record.inbox_id)
    assert still is not None
    assert still.status is InboxStatus.RECEIVED
    state = await store.get_flow_state("inventory", "sku-1")
    assert state is not None
    assert (state.state, state.version) == ({"on_hand": 5}, 1)


async def test_concurrent_saves_of_one_version_let_exactly_one_win(store: SqlStore) -> None:
    async with store.transaction() as tx:
        await tx.save_flow_state("f", "k", {"n": 0}, 0)

    async def save(n: int) -> int:
        async with store.transaction() as tx:
            saved = await tx.save_flow_state("f", "k", {"n": n}, 1)
            await tx.enqueue(Command(f"f:k:{n}", "erp", "x"))
            return saved.version

    results = await asyncio.gather(*(save(n) for n in range(1, 6)), return_exceptions=True)
    assert sum(1 for r in results if r == 2) == 1
    assert sum(isinstance(r, StaleFlowState) for r in results) == 4
    assert await store.queue_depth() == {"erp": 1}


async def test_an_error_inside_a_transaction_rolls_everything_back(store: SqlStore) -> None:
    async def buggy_step() -> None:
        async with store.transaction() as tx:
            await tx.enqueue(Command("never", "erp", "x"))
            raise RuntimeError("flow bug")

    with pytest.raises(RuntimeError, match="flow bug"):
        await buggy_step()
    assert await store.find_command("never") is None


async def test_completing_a_command_commits_with_the_flow_step_or_not_at_all(
    store: SqlStore,
) -> None:
    await store.enqueue(Command("o-1:create-so", "netsuite", "sales_order.create"))
    (claim,) = await store.claim("w")
    created = Event(source="netsuite", type="erp.order.created", subject="o-1", correlationid="c")

    async def step(expected_version: int) -> None:
        async with store.transaction() as tx:
            await tx.complete(claim, {"id": "SO-1"}, result_events=[created])
            await tx.save_flow_state("fulfilment", "o-1", {"step": "so-created"}, expected_version)
            await tx.enqueue(Command("o-1:ship", "shipstation", "order.create"))

    with pytest.raises(StaleFlowState):
        await step(expected_version=7)
    record = await store.get_command(claim.command_id)
    assert record is not None
    assert record.status.value == "running"
    assert await store.read_events() == []
    await step(expected_version=0)
    record = await store.get_command(claim.command_id)
    assert record is not None
    assert record.result == {"id": "SO-1"}
    assert await store.queue_depth() == {"shipstation": 1}
    assert [s.event.id for s in await store.read_events()] == [created.id]
