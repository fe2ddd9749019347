"""The hub's availability against real simulators and a real store.

- ERP polling feeds the read model of a running hub (NetSuite and Business Central);
- with the ERP down, ``/v1/availability`` still answers, stale and with its age;
- a hold is kept until an ERP level newer than its ``committed`` release was read;
- Shopify shows the available-to-promise, and our own writes coming back as webhooks cause no
  further write (no echo loop); the freshness SLO is on ``/metrics``;
- stock arriving for a backordered order appends ``order.stock_check``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import pytest

from crossdock.availability.backorders import STOCK_CHECK, STOCK_CHECK_SOURCE
from crossdock.availability.releases import PENDING_FLOW
from crossdock.backbone.store import Command
from crossdock.canonical.envelope import Event
from crossdock.connectors.businesscentral import CURSOR_FLOW
from crossdock.connectors.netsuite.polling import POLL_FLOW
from crossdock.flows.order_fulfilment.ports import RESERVATION_RELEASE, RESERVATIONS_DESTINATION

SAFETY = 2
STOCK = 40


class Rig(Protocol):
    """The conftest's rig, as these tests use it."""

    hub: Any
    availability: Any
    erp_stack: Any
    session: Any

    async def get(self, url: str) -> tuple[int, Any]: ...
    async def set_netsuite_stock(self, sku: str, location: str, on_hand: int) -> None: ...
    def shopify_available(self, sku: str) -> int | None: ...
    async def eventually(self, probe: Callable[[], Awaitable[Any]], what: str) -> Any: ...


async def _atp(rig: Rig, sku: str, location: str) -> int | None:
    found = rig.availability.model.lookup(sku, location)
    return None if found is None else found.available_to_promise


@pytest.mark.parametrize("erp", ["netsuite", "businesscentral"])
async def test_erp_polling_feeds_the_read_model_of_a_running_hub(
    make_rig: Callable[[str], Awaitable[Rig]], erp: str
) -> None:
    rig = await make_rig(erp)
    location = "1" if erp == "netsuite" else "bc-main"

    async def polled() -> dict[str, Any] | None:
        status, body = await rig.get(
            f"{rig.hub.base_url}/v1/availability?sku=1896-S&location={location}"
        )
        return body if status == 200 else None

    body = await rig.eventually(polled, "the ERP's level served by /v1/availability")
    assert body["stale"] is False
    assert set(body["sources"]) == {erp}
    assert body["safety_stock"] == SAFETY
    assert body["available_to_promise"] == max(0, body["source_available"] - SAFETY)
    assert rig.hub.store is not None
    flow = POLL_FLOW if erp == "netsuite" else CURSOR_FLOW
    for feed in ("inventory", "orders"):  # each feed keeps its own cursor in the store
        assert await rig.hub.store.get_flow_state(flow, f"{erp}:{feed}") is not None
    if erp == "netsuite":
        assert body["source_available"] == STOCK
        await rig.set_netsuite_stock("1896-S", "1", 25)

        async def changed() -> int | None:
            atp = await _atp(rig, "1896-S", "1")
            return atp if atp == 25 - SAFETY else None

        assert await rig.eventually(changed, "the new ERP level in the read model") == 23
    events = await rig.hub.store.read_events(0, limit=1000)
    levels = [s.event for s in events if s.event.type == "inventory.changed"]
    assert any(e.source == erp for e in levels)
    echoes = {e.source for e in levels} - {erp}  # Shopify's: echoes of our own writes
    assert all(source.startswith("shopify:") for source in echoes)


async def test_with_the_erp_down_availability_is_served_stale_with_its_age(
    netsuite_rig: Rig,
) -> None:
    rig = netsuite_rig
    url = f"{rig.hub.base_url}/v1/availability?sku=1936-S&location=1"

    async def fresh() -> dict[str, Any] | None:
        status, body = await rig.get(url)
        return body if status == 200 and body["stale"] is False else None

    before = await rig.eventually(fresh, "a fresh level")
    await rig.erp_stack.aclose()  # the NetSuite simulator goes away

    async def stale() -> dict[str, Any] | None:
        status, body = await rig.get(url)
        assert status == 200  # never an error because the ERP is down
        return body if body["stale"] is True else None

    body = await rig.eventually(stale, "the ERP's breaker open and the answer stale")
    assert body["available_to_promise"] == before["available_to_promise"]
    assert body["age_seconds"] >= before["age_seconds"]
    assert body["as_of"] == before["as_of"]
    assert rig.availability.model.erp_down is True
    assert all(p.stats.failures >= 1 for p in rig.availability.pollers)


async def test_a_hold_is_released_once_the_erp_level_newer_than_the_release_is_read(
    netsuite_rig: Rig,
) -> None:
    rig = netsuite_rig
    model = rig.availability.model
    assert rig.hub.store is not None
    store = rig.hub.store
    start = STOCK - SAFETY

    async def known() -> int | None:
        atp = await _atp(rig, "1896-S", "1")
        return atp if atp == start else None

    await rig.eventually(known, "the ERP's level")
    held = await rig.availability.port.reserve("order-1", {"1896-S": 5}, channel="shopify")
    assert held == {"1896-S": 5}
    assert await _atp(rig, "1896-S", "1") == start - 5  # held at validation

    # The ERP commits the order's 5 units (its available drops), then the flow asks for the
    # committed release, which the hub's worker pool performs.
    await rig.set_netsuite_stock("1896-S", "1", STOCK - 5)
    command = Command(
        idempotency_key="release:order-1:committed",
        destination=RESERVATIONS_DESTINATION,
        kind=RESERVATION_RELEASE,
        payload={"order_id": "order-1", "reason": "committed", "instance": {"key": "order-1"}},
    )
    await store.enqueue(command)
    assert rig.hub.pool is not None
    rig.hub.pool.notify()

    seen: set[int] = set()

    async def settled() -> bool | None:
        atp = await _atp(rig, "1896-S", "1")
        assert atp is not None
        seen.add(atp)
        pending = await store.get_flow_state(PENDING_FLOW, "main")
        record = await store.find_command(command.idempotency_key)
        done = record is not None and record.result is not None
        if done and not (pending and pending.state.get("orders")) and atp == start - 5:
            level = model.level("1896-S", "1")
            return True if level is not None and level.available == STOCK - 5 else None
        return None

    await rig.eventually(settled, "the hold released after the committed level was read")
    record = await store.find_command(command.idempotency_key)
    assert record is not None
    assert record.result is not None
    assert record.result["outcome"] == "deferred"
    # The 5 units counted once all along: held (start - 5), or held and committed in the ERP
    # (start - 10) until the release; never zero times (start).
    assert start not in seen
    assert seen <= {start - 5, start - 10}
    assert await rig.availability.reservations.held("order-1") == {}


async def test_shopify_shows_the_stock_and_our_echo_causes_no_second_write(
    netsuite_rig: Rig,
) -> None:
    rig = netsuite_rig

    async def published() -> int | None:
        syncs = rig.availability.syncs
        shown = [rig.shopify_available(sku) for sku in ("1896-S", "1936-S")]
        if syncs and shown == [STOCK - SAFETY] * 2 and syncs[0].counts.echoes_suppressed >= 2:
            return int(syncs[0].counts.enqueued)
        return None

    enqueued = await rig.eventually(published, "the ERP's stock shown in Shopify, echoes back")
    sync = rig.availability.syncs[0]
    assert enqueued == 2  # one inventory.set per SKU
    assert sync.counts.foreign_changes == 0

    # One ERP change: one write, whose echo comes back too, and nothing after it. Shopify
    # stamps levels to the second and the hub keys a level's event by that stamp, so the
    # change is made in a later second than the first write (else its echo is one event).
    await asyncio.sleep(1.05 - time.time() % 1)
    await rig.set_netsuite_stock("1936-S", "1", 12)

    async def echoed() -> bool | None:
        shown = rig.shopify_available("1936-S") == 12 - SAFETY
        return True if shown and sync.counts.echoes_suppressed >= 3 else None

    await rig.eventually(echoed, "the new level in Shopify and its echo back in the hub")
    await sync.flush()  # anything the echo might have marked would be enqueued now
    assert sync.counts.enqueued == 3
    assert sync.counts.foreign_changes == 0
    level = rig.availability.model.level("1936-S", "1")
    assert level is not None
    assert level.source == "netsuite"  # the echo never became an input
    status, _ = await rig.get(f"{rig.hub.base_url}/healthz")
    assert status == 200
    async with rig.session.get(f"{rig.hub.base_url}/metrics") as response:
        text = await response.text()
    assert 'crossdock_availability_freshness_seconds_count{destination="shopify"}' in text


async def test_stock_arriving_for_a_backordered_order_appends_a_stock_check(
    netsuite_rig: Rig,
) -> None:
    rig = netsuite_rig
    assert rig.hub.store is not None
    store = rig.hub.store

    async def known() -> bool | None:
        return True if await _atp(rig, "1896-S", "1") == STOCK - SAFETY else None

    await rig.eventually(known, "the ERP's level")
    # Two orders the flow parked in backorder, one that has since moved on.
    for order, status, sku in (
        ("order-waits", "backorder", "1896-S"),
        ("order-other-sku", "backorder", "1936-S"),
        ("order-moved-on", "validated", "1896-S"),
    ):
        async with store.transaction() as tx:
            await tx.save_flow_state("order_fulfilment", order, {"state": {"status": status}}, 0)
            await tx.append_events(
                Event(
                    source="crossdock:flow:order_fulfilment",
                    type="order.backordered",
                    subject=order,
                    correlationid=f"c-{order}",
                    data={"order_id": order, "short": {sku: 10}, "rule": "hold"},
                )
            )
    await rig.set_netsuite_stock("1896-S", "1", STOCK + 50)

    async def checked() -> list[Event] | None:
        events = [s.event for s in await store.read_events(0, limit=1000)]
        checks = [e for e in events if e.type == STOCK_CHECK]
        return checks or None

    checks = await rig.eventually(checked, "an order.stock_check for the backordered order")
    assert [(e.subject, e.data["order_id"], e.source) for e in checks] == [
        ("order-waits", "order-waits", STOCK_CHECK_SOURCE)
    ]
    assert "order-moved-on" not in rig.availability.backorders.waiting
    assert "order-other-sku" in rig.availability.backorders.waiting
