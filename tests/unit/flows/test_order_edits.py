"""Quantity edits after the ERP order, decided purely: applied before release under the
``release`` policy (stock checked again, the ERP told, the backorder rule for a shortfall),
rejected after release, under the ``erp`` policy, or when the ERP cannot match the line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals, Payment
from crossdock.canonical.refs import CustomerRef
from crossdock.flows.engine import Decision
from crossdock.flows.order_fulfilment import (
    BackorderRule,
    EditQuantitiesUntil,
    OrderContext,
    decide,
)
from crossdock.flows.order_fulfilment.decide import erp_line_changes, quantity_edit_units

from .test_order_decide import (
    PRICES,
    SETTINGS,
    STOCK,
    T0,
    address,
    ctx,
    erp_created,
    kinds,
    order_data,
    order_event,
    released_state,
    result,
    run,
)

PRICES = {**PRICES, "TEA-GRN": "8.00"}
BASE = [("11", "CAF-ESP-1KG", 2), ("12", "MUG-BLK", 1)]
EDITED = [("11", "CAF-ESP-1KG", 5), ("13", "TEA-GRN", 2)]  # CAF +3, MUG removed, TEA added
WITH_TEA = {**STOCK, "TEA-GRN": 10}


def edited(
    lines: Sequence[tuple[str, str | None, int]], *, financial: str = "pending", gift: str = ""
) -> dict[str, Any]:
    """An order of `lines` (a line without SKU is a custom line at 3.00; `gift` names a line
    id sold as a gift card)."""
    built = [
        OrderLine(
            line_id=lid,
            sku=sku,
            title=sku or "Engraving",
            quantity=qty,
            unit_price=Money(PRICES[sku] if sku else "3.00", "EUR"),
            gift_card=lid == gift,
            requires_shipping=lid != gift,
        )
        for lid, sku, qty in lines
    ]
    total = sum((ln.unit_price * ln.quantity for ln in built), Money.zero("EUR")).quantize()
    order = Order(
        number="#7001",
        channel="shopify:web",
        customer=CustomerRef(kind="consumer", email="zoe@example.com"),
        shipping_address=address(),
        billing_address=address(),
        currency="EUR",
        lines=built,
        totals=OrderTotals(total=total),
        status="open",
        financial_status=financial,  # type: ignore[arg-type]
        payments=[Payment(method="card")],
        placed_at=T0,
    )
    return order.model_dump(mode="json")


def held_by_erp(
    lines: Sequence[tuple[str, str | None, int]] | None = None,
    context: OrderContext | None = None,
    gift: str = "",
) -> Any:
    """An order the ERP has, waiting for payment (``payment_held``)."""
    placed = edited(lines or list(BASE), gift=gift)
    state, _ = run([order_event("order.placed", placed), erp_created()], context)
    assert state["status"] == "payment_held"
    return state


def update(lines: Sequence[tuple[str, str | None, int]], n: int = 3, **kw: Any) -> Any:
    return order_event("order.updated", edited(lines, **kw), n)


def rejection(decision: Decision) -> str:
    [event] = [e for e in decision.events if e.type == "order.edit_rejected"]
    return str(event.data["reason"])


def test_an_edit_before_release_goes_to_the_erp_and_the_order_keeps_the_new_lines() -> None:
    state = held_by_erp()
    edit = update(EDITED)

    decision = decide(state, edit, ctx(availability=WITH_TEA))

    [command] = decision.commands
    assert (command.step, command.destination, command.kind) == (
        f"edit:{edit.id}:erp",
        "netsuite",
        "sales_order.update",
    )
    assert command.payload["changes"] == {
        "lines": [
            {"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 5},
            {
                "line_id": "13",
                "sku": "TEA-GRN",
                "quantity": 2,
                "unit_price": {"amount": "8.00", "currency": "EUR"},
                "title": "TEA-GRN",
            },
            {"line_id": "12", "sku": "MUG-BLK", "quantity": 0},
        ]
    }
    after = decision.state
    assert [(ln["line_id"], ln["quantity"]) for ln in after["order"]["lines"]] == [
        ("11", 5),
        ("13", 2),
    ]
    assert after["order"]["totals"]["total"]["amount"] == "140.50"  # 5 × 24.90 + 2 × 8.00
    assert after["edits"][-1] == {
        "event": edit.id,
        "outcome": "applied",
        "lines": command.payload["changes"]["lines"],
    }
    assert after["status"] == "payment_held"
    assert after["short"] == {}
    assert decision.events == ()


def test_the_same_edit_delivered_again_asks_nothing_more() -> None:
    state = decide(held_by_erp(), update(EDITED), ctx(availability=WITH_TEA)).state

    again = decide(state, update(EDITED, 4), ctx(availability=WITH_TEA))

    assert again.commands == ()
    assert again.state["order"]["lines"] == state["order"]["lines"]


def test_a_released_edit_carries_the_new_quantities_to_the_warehouse() -> None:
    state = held_by_erp()
    paid = update([("11", "CAF-ESP-1KG", 4), ("12", "MUG-BLK", 1)], financial="paid")

    decision = decide(state, paid, ctx(availability={"CAF-ESP-1KG": 2, "MUG-BLK": 5}))

    assert decision.state["status"] == "released_to_warehouse"
    assert kinds(decision) == [("netsuite", "sales_order.update"), ("shipstation", "order.release")]
    release = decision.commands[1].payload["order"]
    assert [(ln["sku"], ln["quantity"]) for ln in release["lines"]] == [
        ("CAF-ESP-1KG", 4),
        ("MUG-BLK", 1),
    ]


def test_an_edit_whose_added_units_are_short_follows_the_backorder_rule() -> None:
    state = held_by_erp()
    # After the ERP order only the 3 added units are checked: 1 is there, 2 are not.
    paid = update([("11", "CAF-ESP-1KG", 5), ("12", "MUG-BLK", 1)], financial="paid")

    decision = decide(state, paid, ctx(availability={"CAF-ESP-1KG": 1, "MUG-BLK": 5}))

    assert decision.state["short"] == {"CAF-ESP-1KG": 2}
    assert decision.state["status"] == "backorder"
    assert kinds(decision) == [
        ("netsuite", "sales_order.update"),
        ("shopify", "order.annotate"),
        ("salesforce", "case.open"),
    ]
    assert [e.type for e in decision.events] == ["order.backordered"]


def test_a_short_edit_under_split_releases_what_is_there() -> None:
    state = held_by_erp()
    paid = update([("11", "CAF-ESP-1KG", 5), ("12", "MUG-BLK", 1)], financial="paid")
    split = ctx(
        settings=replace(SETTINGS, backorder=BackorderRule.SPLIT),
        availability={"CAF-ESP-1KG": 1, "MUG-BLK": 5},
    )

    decision = decide(state, paid, split)

    assert decision.state["status"] == "partial_backorder"
    assert decision.state["pending"] == {"11": 2}
    assert decision.state["parts"][0]["lines"] == {"11": 3, "12": 1}


def test_an_edit_before_the_erp_confirmed_the_order_checks_every_unit() -> None:
    state, _ = run([order_event("order.placed", edited(list(BASE)))])
    assert state["status"] == "validated"

    decision = decide(state, update([("11", "CAF-ESP-1KG", 30)]), ctx())

    assert decision.state["short"] == {"CAF-ESP-1KG": 10}  # 30 wanted, 20 in stock
    assert kinds(decision) == [("netsuite", "sales_order.update")]
    after = decide(decision.state, erp_created(), ctx()).state
    assert after["status"] == "payment_held"  # the gate: payment first, then stock
    paid = update([("11", "CAF-ESP-1KG", 30)], n=5, financial="paid")
    assert decide(after, paid, ctx()).state["status"] == "backorder"


def test_quantity_edits_are_rejected_under_the_erp_policy() -> None:
    state = held_by_erp()
    policy = ctx(settings=replace(SETTINGS, edit_quantities_until=EditQuantitiesUntil.ERP))

    decision = decide(state, update(EDITED), policy)

    assert rejection(decision) == "quantities or lines changed after the ERP order"
    assert decision.commands == ()
    assert decision.state["order"]["lines"] == state["order"]["lines"]


def test_a_quantity_edit_after_release_is_rejected_and_the_lines_are_kept() -> None:
    state = released_state()
    more = order_event("order.updated", order_data([("11", "CAF-ESP-1KG", 5)]), 3)

    decision = decide(state, more, ctx())

    assert rejection(decision) == "quantities or lines changed after release"
    assert decision.commands == ()
    assert decision.state["order"]["lines"] == state["order"]["lines"]
    assert decision.state["channel_lines"] == {"11": 5}  # shipments are capped at this


def test_a_changed_line_the_erp_cannot_match_rejects_the_edit() -> None:
    custom = [*BASE, ("14", None, 1)]
    state = held_by_erp(custom)

    decision = decide(state, update([*BASE, ("14", None, 2)]), ctx())

    assert rejection(decision).startswith("line 14 (no SKU, or a gift card) changed")
    assert decision.commands == ()


def test_an_unknown_added_sku_rejects_the_edit() -> None:
    state = held_by_erp()

    decision = decide(state, update(EDITED), ctx())  # TEA-GRN is unknown to the availability

    assert rejection(decision) == "unknown SKU: TEA-GRN"
    assert decision.state["order"]["lines"] == state["order"]["lines"]


def test_an_address_and_quantities_changed_together_make_one_command() -> None:
    state = held_by_erp()
    moved = edited([("11", "CAF-ESP-1KG", 3), ("12", "MUG-BLK", 1)])
    moved["shipping_address"]["city"] = "Potsdam"

    decision = decide(state, order_event("order.updated", moved, 3), ctx())

    [command] = decision.commands
    assert sorted(command.payload["changes"]) == ["lines", "shipping_address"]
    assert command.payload["changes"]["shipping_address"]["city"] == "Potsdam"


def test_a_rejected_quantity_edit_still_sends_the_new_address_before_release() -> None:
    state = held_by_erp()
    moved = edited([("11", "CAF-ESP-1KG", 3), ("12", "MUG-BLK", 1)])
    moved["shipping_address"]["city"] = "Potsdam"
    policy = ctx(settings=replace(SETTINGS, edit_quantities_until=EditQuantitiesUntil.ERP))

    decision = decide(state, order_event("order.updated", moved, 3), policy)

    [command] = decision.commands
    assert command.payload["changes"] == {"shipping_address": moved["shipping_address"]}
    assert [e.type for e in decision.events] == ["order.edit_rejected"]
    assert decision.state["order"]["lines"] == state["order"]["lines"]


def test_the_hold_of_added_units_ends_once_the_erp_has_them() -> None:
    reserving = ctx(reserves=True)
    state = held_by_erp(context=reserving)
    assert state["held"] is False  # released as committed when the ERP order was created
    edit = update([("11", "CAF-ESP-1KG", 5), ("12", "MUG-BLK", 1)])

    applied = decide(state, edit, ctx(reserves=True, held={"CAF-ESP-1KG": 3}))
    assert applied.state["held"] is True
    updated = result(
        "sales_order.update", "erp", "netsuite", f"edit:{edit.id}:erp", {"netsuite_id": "9001"}
    )
    done = decide(applied.state, updated, ctx(reserves=True))

    assert kinds(done) == [("availability", "reservation.release")]
    assert done.commands[0].payload["reason"] == "committed"
    assert done.state["held"] is False


def test_the_units_an_edit_checks_are_every_unit_or_the_added_ones() -> None:
    validated, _ = run([order_event("order.placed", edited(list(BASE)))])
    waiting = held_by_erp()
    new = edited([("11", "CAF-ESP-1KG", 5), ("12", "MUG-BLK", 1)])

    assert quantity_edit_units(validated, new, SETTINGS) == {"CAF-ESP-1KG": 5, "MUG-BLK": 1}
    assert quantity_edit_units(waiting, new, SETTINGS) == {"CAF-ESP-1KG": 3}
    assert quantity_edit_units(waiting, waiting["order"], SETTINGS) is None
    erp_policy = replace(SETTINGS, edit_quantities_until=EditQuantitiesUntil.ERP)
    assert quantity_edit_units(waiting, new, erp_policy) is None


def test_erp_line_changes_total_a_sku_over_its_lines() -> None:
    before = edited([("11", "CAF-ESP-1KG", 2), ("12", "CAF-ESP-1KG", 1)])
    after = edited([("11", "CAF-ESP-1KG", 2), ("12", "CAF-ESP-1KG", 3)])

    assert erp_line_changes(before, after) == [
        {"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 5}
    ]
    assert erp_line_changes(before, before) == []


def test_a_changed_gift_card_line_rejects_the_edit() -> None:
    state = held_by_erp([*BASE, ("15", "TEA-GRN", 1)], ctx(availability=WITH_TEA), gift="15")

    decision = decide(state, update([*BASE, ("15", "TEA-GRN", 2)], gift="15"), ctx())

    assert rejection(decision).startswith("line 15 (no SKU, or a gift card) changed")
