"""End to end on a running hub: a backorder tags the Shopify order and notes the short units;
the ``orders/updated`` echo of that write is not taken for a customer edit; the release removes
the tag."""

from __future__ import annotations

from typing import Any

import pytest

from crossdock.flows.order_fulfilment.flow import order_key_for

from .test_order_flow import Rig, _erp_stock_known, _eventually, _order_spec
from .test_order_flow import rig as rig  # the rig fixture of that module

SKU, ITEM = "1896-S", "9100"  # the NetSuite item of the SKU in test_order_flow's catalogue


async def _set_stock(rig: Rig, on_hand: int) -> None:
    """Change NetSuite's stock of `SKU` (the hub polls it)."""
    await rig.post(
        f"{rig.admin('netsuite')}/netsuite/stock",
        {"item": ITEM, "location": "1", "on_hand": on_hand},
        status=200,
    )


@pytest.mark.parametrize("rig", ["netsuite"], indirect=True)
async def test_a_backorder_is_shown_in_shopify_and_cleared_on_release(rig: Rig) -> None:
    await _erp_stock_known(rig)
    await _set_stock(rig, 1)
    assert rig.hub.availability is not None
    model = rig.hub.availability.model

    async def polled() -> bool | None:
        await model.catch_up()
        return True if model.total(SKU) == 1 else None

    await _eventually(polled, f"the ERP's stock of {SKU} down to 1")
    shop = rig.sandbox.simulators["shopify"]
    spec = _order_spec(1, SKU, 3)
    order = (await rig.post(f"{rig.admin('shopify')}/shopify/orders", spec))["order"]
    gid = f"gid://shopify/Order/{order['id']}"
    key = order_key_for("shopify", gid)
    store = rig.hub.store
    assert store is not None

    async def tagged() -> dict[str, Any] | None:
        now = shop.state.order(order["id"])
        done = await rig.status(key) == "backorder" and now["tags"] == "backordered"
        return now if done and now["note"] else None

    now = await _eventually(tagged, "the backordered Shopify order tagged and noted")
    assert now["note"].startswith("Backordered (short: 1896-S ×2)")
    assert now["note"].count("[crossdock:") == 1

    async def echo_taken() -> list[str] | None:
        types = [s.event.type for s in await store.events_by_subject(key)]
        return types if "order.updated" in types else None

    types = await _eventually(echo_taken, "the orders/updated echo taken by the flow")
    assert await rig.status(key) == "backorder"
    assert "order.edit_rejected" not in types

    await _set_stock(rig, 100)

    async def released() -> dict[str, Any] | None:
        now = shop.state.order(order["id"])
        done = await rig.status(key) == "released_to_warehouse" and now["tags"] == ""
        return now if done else None

    now = await _eventually(released, "the released order untagged in Shopify")
    assert now["note"].count("[crossdock:") == 1  # the release writes no second line
    types = [s.event.type for s in await store.events_by_subject(key)]
    assert types.count("channel.order.annotated") == 2
    for failure in ("order.edit_rejected", "command.failed", "order.command_failed"):
        assert failure not in types
