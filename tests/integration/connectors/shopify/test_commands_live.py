"""Fulfilments with tracking, cancel, refund, product and price updates against the simulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import PermanentFailureError, RetryLaterError

from .conftest import Shop

TRACK_A = "1Z999AA10123456784"
TRACK_B = "1Z999AA10123456785"


def command(kind: str, key: str, **payload: Any) -> Command:
    return Command(idempotency_key=key, destination="shopify", kind=kind, payload=payload)


def line_id(order: dict[str, Any], sku: str) -> int:
    return int(next(ln["id"] for ln in order["line_items"] if ln["sku"] == sku))


def shipments(order: dict[str, Any]) -> list[dict[str, Any]]:
    mug, bag = line_id(order, "MUG-RED"), line_id(order, "BAG-20L")
    return [
        {
            "tracking_number": TRACK_A,
            "company": "UPS",
            "url": f"https://www.ups.com/track?tracknum={TRACK_A}",
            "lines": [{"line_item_id": mug, "quantity": 2}],
        },
        {
            "tracking_number": TRACK_B,
            "company": "UPS",
            "lines": [{"line_item_id": mug, "quantity": 1}, {"line_item_id": bag, "quantity": 1}],
        },
    ]


async def two_line_order(shop: Shop) -> dict[str, Any]:
    return await shop.place(
        {"line_items": [{"sku": "MUG-RED", "quantity": 3}, {"sku": "BAG-20L", "quantity": 1}]}
    )


async def test_two_tracking_numbers_make_two_partial_fulfilments_once(shop: Shop) -> None:
    order = await two_line_order(shop)
    create = command(
        "fulfillment.create", "ful-1", order_id=order["id"], shipments=shipments(order)
    )
    connector = shop.connector()
    result = await connector.perform(create)
    assert [c["tracking_number"] for c in result["created"]] == [TRACK_A, TRACK_B]
    stored = shop.sim.state.order(order["id"])
    assert [f["tracking_number"] for f in stored["fulfillments"]] == [TRACK_A, TRACK_B]
    assert [sum(ln["quantity"] for ln in f["line_items"]) for f in stored["fulfillments"]] == [2, 2]
    assert stored["fulfillment_status"] == "fulfilled"
    assert stored["fulfillments"][0]["tracking_company"] == "UPS"

    again = await connector.perform(create, attempt=2)  # a retry after a lost answer
    assert again["already_present"] == [TRACK_A, TRACK_B]
    assert len(shop.sim.state.order(order["id"])["fulfillments"]) == 2


async def test_an_earlier_attempt_that_took_effect_is_settled_by_lookup(shop: Shop) -> None:
    order = await two_line_order(shop)
    [first] = shipments(order)[:1]
    # An earlier attempt created the fulfilment, then the worker died before recording it.
    async with shop.http.get(f"{shop.api}/orders/{order['id']}/fulfillment_orders.json") as r:
        fo = (await r.json())["fulfillment_orders"][0]
    mug = next(ln for ln in fo["line_items"] if ln["line_item_id"] == line_id(order, "MUG-RED"))
    body = {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": fo["id"],
                    "fulfillment_order_line_items": [{"id": mug["id"], "quantity": 2}],
                }
            ],
            "tracking_info": {"number": TRACK_A, "company": "UPS"},
        }
    }
    async with shop.http.post(f"{shop.api}/fulfillments.json", json=body) as r:
        assert r.status == 201
    create = command("fulfillment.create", "ful-2", order_id=order["id"], shipments=[first])
    settled = await shop.connector().perform(create, attempt=2)
    assert settled == {"order_id": order["id"], "created": [], "already_present": [TRACK_A]}
    effects = await shop.effects("fulfillment", str(order["id"]))
    assert effects["attempts"] == 1  # the connector did not try a second create


async def test_a_hanging_shop_never_yields_a_duplicate_fulfilment(shop: Shop) -> None:
    order = await two_line_order(shop)
    create = command(
        "fulfillment.create", "ful-5", order_id=order["id"], shipments=shipments(order)[:1]
    )
    connector = shop.connector(request_timeout=0.5)
    await shop.faults(hang_rate=1.0, fault_phase="after", seed=3)
    with pytest.raises(RetryLaterError):  # timed-out reads are idempotent: retry later
        await connector.perform(create)
    await shop.clear_faults()
    await connector.perform(create, attempt=2)
    await connector.perform(create, attempt=3)
    numbers = [f["tracking_number"] for f in shop.sim.state.order(order["id"])["fulfillments"]]
    assert numbers == [TRACK_A]


async def test_more_than_is_open_is_refused_permanently(shop: Shop) -> None:
    order = await two_line_order(shop)
    too_many = [
        {
            "tracking_number": "X1",
            "lines": [{"line_item_id": line_id(order, "BAG-20L"), "quantity": 2}],
        }
    ]
    with pytest.raises(PermanentFailureError, match="more than the fulfilment orders have open"):
        await shop.connector().perform(
            command("fulfillment.create", "ful-3", order_id=order["id"], shipments=too_many)
        )


async def test_a_shipment_without_lines_fulfils_everything_left(shop: Shop) -> None:
    order = await two_line_order(shop)
    result = await shop.connector().perform(
        command(
            "fulfillment.create",
            "ful-4",
            order_id=order["id"],
            shipments=[{"tracking_number": "ALL-1"}],
        )
    )
    assert len(result["created"]) == 1
    assert shop.sim.state.order(order["id"])["fulfillment_status"] == "fulfilled"


async def test_cancel_then_cancel_again_is_done_once(shop: Shop) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-BLU", "quantity": 1}]})
    connector = shop.connector()
    cancel = command("order.cancel", "can-1", order_id=order["id"], reason="customer", restock=True)
    first = await connector.perform(cancel)
    again = await connector.perform(cancel, attempt=2)
    assert first["already"] is False
    assert again["already"] is True
    assert shop.sim.state.order(order["id"])["cancel_reason"] == "customer"
    effects = await shop.effects("cancel", str(order["id"]))
    assert effects["created"] == 1


async def test_cancel_of_an_unknown_order_is_permanent(shop: Shop) -> None:
    with pytest.raises(PermanentFailureError, match="404"):
        await shop.connector().perform(command("order.cancel", "can-2", order_id=1))


async def test_refund_calculated_first_and_not_repeated(shop: Shop) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    refund = command(
        "order.refund",
        "ref-1",
        order_id=order["id"],
        note="Cassé à la livraison",
        refund_line_items=[
            {"line_item_id": line_id(order, "MUG-RED"), "quantity": 1, "restock_type": "no_restock"}
        ],
    )
    connector = shop.connector()
    first = await connector.perform(refund)
    again = await connector.perform(refund, attempt=2)
    assert first["already"] is False
    assert again == first | {"already": True}
    refunds = shop.sim.state.order(order["id"])["refunds"]
    assert len(refunds) == 1
    assert refunds[0]["note"] == "Cassé à la livraison [crossdock:ref-1]"
    assert Decimal(refunds[0]["transactions"][0]["amount"]) > 0


async def test_price_update_through_graphql_and_product_update_through_rest(shop: Shop) -> None:
    variant = next(v for v in shop.sim.state.variants.values() if v["sku"] == "TOWEL-TKY")
    connector = shop.connector()
    result = await connector.perform(
        command(
            "price.update",
            "price-1",
            product_id=variant["product_id"],
            variants=[
                {
                    "variant_id": variant["id"],
                    "price": Decimal("10.25"),
                    "compare_at_price": "12.00",
                }
            ],
        )
    )
    assert result["variants"][0]["price"] in ("10.25", Decimal("10.25"))
    assert shop.sim.state.variants[variant["id"]]["price"] == "10.25"
    updated = await connector.perform(
        command(
            "product.update",
            "prod-1",
            product_id=variant["product_id"],
            product={"title": "Tea towel 東京 — linen"},
        )
    )
    assert updated["product_id"] == variant["product_id"]
    assert shop.sim.state.product(variant["product_id"])["title"] == "Tea towel 東京 — linen"
