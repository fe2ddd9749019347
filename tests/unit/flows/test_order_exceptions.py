"""The order flow's exceptions, decided purely: early events, backorder rules, short picks,
edits after release, and the hub's stock holds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from crossdock.canonical.envelope import Event
from crossdock.canonical.order import parse_order
from crossdock.canonical.refs import CustomerRef, OrderRef
from crossdock.canonical.shipment import Shipment, ShipmentLine
from crossdock.flows.engine import Decision, FlowRejected
from crossdock.flows.order_fulfilment import BackorderRule, OrderContext, decide
from crossdock.flows.order_fulfilment.decide import part_number_link

from .test_order_decide import (
    GID,
    KEY,
    SETTINGS,
    STOCK,
    address,
    ctx,
    erp_created,
    kinds,
    order_data,
    order_event,
    result,
    run,
)

SHORT = {"CAF-ESP-1KG": 1, "MUG-BLK": 5}  # line 11 wants 2 CAF-ESP-1KG, line 12 one MUG-BLK


def rule(name: BackorderRule, **changes: Any) -> OrderContext:
    return ctx(settings=replace(SETTINGS, backorder=name), **changes)


def stock_check(n: int = 0, key: str = KEY) -> Event:
    return Event(
        source="crossdock:hub",
        type="order.stock_check",
        subject=key,
        correlationid=f"stock-{n}",
        data={"order_id": key, "skus": ["CAF-ESP-1KG"]},
    )


def ship(
    tracking: str,
    lines: list[tuple[str, str, int]],
    *,
    order: OrderRef | None = None,
    final: bool | None = None,
    source: str = "edi_3pl:acme",
) -> Event:
    data = Shipment(
        order=order or OrderRef(id=KEY, number="#7001"),
        carrier="UPS",
        tracking_number=tracking,
        status="pre_transit",
        lines=[ShipmentLine(line_id=lid, sku=sku, quantity=q) for lid, sku, q in lines],
        final=final,
    ).model_dump(mode="json")
    return Event(
        source=source, type="shipment.updated", subject=tracking, correlationid="c", data=data
    )


def commands(decision: Decision, kind: str) -> list[Any]:
    return [c for c in decision.commands if c.kind == kind]


def events(decision: Decision, type_: str) -> list[Any]:
    return [e for e in decision.events if e.type == type_]


def steps(state: Any) -> list[str]:
    return [h["to"] for h in state["history"]]


def released_lines(decision: Decision) -> list[tuple[str, int]]:
    [release] = commands(decision, "order.release")
    return [(ln["line_id"], ln["quantity"]) for ln in release.payload["order"]["lines"]]


# ---- early events ---------------------------------------------------------------------------


def test_an_early_cancellation_ends_cancelled_without_asking_the_erp() -> None:
    early = order_event("order.cancelled", order_data(cancelled=True, financial="voided"))
    state, [decision] = run([early])
    assert state["status"] == "cancelled"
    assert steps(state) == ["cancelled"]
    assert [c.destination for c in decision.commands if c.destination == "netsuite"] == []
    assert ("shopify", GID) in {(ln.system, ln.external_id) for ln in decision.links}
    late = decide(state, order_event("order.placed", order_data(), 1), ctx())
    assert late.state == state
    assert late.commands == ()
    assert late.events == ()


def test_an_early_paid_cancellation_refunds_in_the_channel_only() -> None:
    state, [decision] = run([order_event("order.cancelled", order_data(cancelled=True))])
    assert state["status"] == "cancelled"
    assert kinds(decision) == [("shopify", "order.refund")]


def test_an_early_update_is_validated_like_a_placement() -> None:
    state, [decision] = run([order_event("order.updated", order_data())])
    assert state["status"] == "validated"
    assert ("netsuite", "sales_order.create") in kinds(decision)
    late = decide(state, order_event("order.placed", order_data(), 1), ctx())
    assert late.state == state
    assert late.commands == ()


def test_an_early_update_with_bad_totals_is_rejected() -> None:
    data = order_data()
    data["totals"]["total"]["amount"] = "1.00"
    with pytest.raises(FlowRejected, match="totals"):
        decide(None, order_event("order.updated", data), ctx())


def test_a_stock_check_of_an_unknown_order_is_rejected() -> None:
    with pytest.raises(FlowRejected, match="not seen placed"):
        decide(None, stock_check(), ctx())


# ---- hold -----------------------------------------------------------------------------------


def test_hold_waits_for_a_stock_check_that_finds_everything() -> None:
    state, _ = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.HOLD, availability=SHORT),
    )
    assert state["status"] == "backorder"
    still = decide(state, stock_check(1), rule(BackorderRule.HOLD, availability=SHORT))
    assert still.state["status"] == "backorder"
    assert still.commands == ()
    found = decide(state, stock_check(2), rule(BackorderRule.HOLD))
    assert found.state["status"] == "released_to_warehouse"
    [release] = commands(found, "order.release")
    assert release.payload["order_key"] == KEY
    assert release.payload["order"] == state["order"]


# ---- split ----------------------------------------------------------------------------------


def split_state() -> tuple[Any, Decision]:
    state, [_, decision] = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.SPLIT, availability=SHORT),
    )
    return state, decision


def test_split_releases_what_is_in_stock_and_keeps_the_rest_waiting() -> None:
    state, decision = split_state()
    assert state["status"] == "partial_backorder"
    assert released_lines(decision) == [("11", 1), ("12", 1)]
    [release] = commands(decision, "order.release")
    assert release.payload["order_key"] == KEY
    part = parse_order(release.payload["order"])  # a valid order.v1: totals add up
    assert part.number == "#7001"
    assert str(part.totals.total.amount) == "37.40"
    assert state["pending"] == {"11": 1}
    [backordered] = events(decision, "order.backordered")
    assert backordered.data["rule"] == "split"
    assert backordered.data["short"] == {"CAF-ESP-1KG": 1}
    assert ("salesforce", "case.open") in kinds(decision)


def test_split_releases_the_rest_as_part_two_when_stock_arrives() -> None:
    state, _ = split_state()
    first = decide(state, ship("1ZA", [("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)]), ctx())
    assert first.state["status"] == "partial_backorder"
    waiting = decide(
        first.state, stock_check(1), rule(BackorderRule.SPLIT, availability={"CAF-ESP-1KG": 0})
    )
    assert waiting.commands == ()
    found = decide(first.state, stock_check(2), rule(BackorderRule.SPLIT))
    assert found.state["status"] == "partially_shipped"
    [release] = commands(found, "order.release")
    assert release.payload["order_key"] == f"{KEY}-2"
    assert release.payload["order"]["number"] == "#7001-2"
    assert released_lines(found) == [("11", 1)]
    assert (part_number_link(2), "#7001-2") in {(ln.system, ln.external_id) for ln in found.links}
    assert [e.type for e in found.events] == ["order.backorder_released"]
    second = ship("1ZB", [("11", "CAF-ESP-1KG", 1)], order=OrderRef(id=f"{KEY}-2"))
    done = decide(found.state, second, ctx())
    assert done.state["status"] == "shipped"
    assert done.state["shipments"]["1ZB"]["part"] == 2
    assert [p["done"] for p in done.state["parts"]] == [True, True]


def test_split_with_nothing_in_stock_waits_in_backorder() -> None:
    state, _ = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.SPLIT, availability={"CAF-ESP-1KG": 0, "MUG-BLK": 0}),
    )
    assert state["status"] == "backorder"
    some = decide(state, stock_check(1), rule(BackorderRule.SPLIT, availability=SHORT))
    assert some.state["status"] == "partial_backorder"
    assert released_lines(some) == [("11", 1), ("12", 1)]


def test_a_cancellation_after_a_split_cancels_every_open_part() -> None:
    state, _ = split_state()
    state = decide(state, stock_check(2), rule(BackorderRule.SPLIT)).state
    assert state["status"] == "released_to_warehouse"
    cancelled = order_event("order.cancelled", order_data(cancelled=True), 9)
    decision = decide(state, cancelled, ctx())
    assert decision.state["status"] == "cancelled_after_release"
    keys = [c.payload["order_key"] for c in commands(decision, "order.cancel")]
    assert keys == [KEY, f"{KEY}-2"]


# ---- cancel_line ----------------------------------------------------------------------------


def test_cancel_line_releases_what_is_in_stock_and_cancels_the_rest() -> None:
    state, [_, decision] = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.CANCEL_LINE, availability=SHORT),
    )
    assert state["status"] == "released_to_warehouse"
    assert released_lines(decision) == [("11", 1), ("12", 1)]
    [refund] = commands(decision, "order.refund")
    assert refund.payload["refund_line_items"] == [
        {"line_item_id": 11, "quantity": 1, "restock_type": "cancel"}
    ]
    assert commands(decision, "sales_order.close") == []  # the released part is still open
    [cancelled] = events(decision, "order.lines_cancelled")
    assert cancelled.data["lines"] == [{"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 1}]
    assert events(decision, "order.backordered")
    assert ("salesforce", "case.open") in kinds(decision)
    shipped = decide(
        state, ship("1ZA", [("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)], final=True), ctx()
    )
    assert shipped.state["status"] == "shipped"
    [close] = commands(shipped, "sales_order.close")
    assert close.payload["order_id"] == KEY
    assert [c.kind for c in shipped.commands].index("fulfillment.record") < [
        c.kind for c in shipped.commands
    ].index("sales_order.close")


def test_cancel_line_with_nothing_in_stock_cancels_the_order_at_once() -> None:
    state, [_, decision] = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.CANCEL_LINE, availability={"CAF-ESP-1KG": 0, "MUG-BLK": 0}),
    )
    assert state["status"] == "cancelled"
    assert commands(decision, "order.release") == []
    assert len(commands(decision, "sales_order.close")) == 1
    [refund] = commands(decision, "order.refund")
    assert {i["line_item_id"]: i["quantity"] for i in refund.payload["refund_line_items"]} == {
        11: 2,
        12: 1,
    }


def test_the_channel_echo_of_our_own_line_refund_is_not_an_edit() -> None:
    state, _ = run(
        [order_event("order.placed", order_data()), erp_created()],
        rule(BackorderRule.CANCEL_LINE, availability=SHORT),
    )
    echo = order_data([("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)])
    decision = decide(state, order_event("order.updated", echo, 5), ctx())
    assert decision.events == ()
    assert decision.state["order"]["lines"] == state["order"]["lines"]


# ---- short picks ----------------------------------------------------------------------------


def released(context: OrderContext | None = None) -> Any:
    state, _ = run([order_event("order.placed", order_data()), erp_created()], context)
    assert state["status"] == "released_to_warehouse"
    return state


def test_a_final_short_shipment_backorders_the_missing_units_under_hold() -> None:
    state = released()
    short = ship("1ZA", [("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)], final=True)
    decision = decide(state, short, ctx())
    assert decision.state["status"] == "partial_backorder"
    assert decision.state["pending"] == {"11": 1}
    [picked] = events(decision, "order.short_picked")
    assert picked.data["missing"] == [{"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 1}]
    [backordered] = events(decision, "order.backordered")
    assert backordered.data["short"] == {"CAF-ESP-1KG": 1}
    assert backordered.data["cause"] == "short_pick"
    assert ("salesforce", "case.open") in kinds(decision)
    again = decide(decision.state, stock_check(3), ctx())
    assert again.state["status"] == "partially_shipped"
    assert released_lines(again) == [("11", 1)]
    rest = ship("1ZB", [("11", "CAF-ESP-1KG", 1)], order=OrderRef(number="#7001-2"), final=True)
    assert decide(again.state, rest, ctx()).state["status"] == "shipped"


def test_a_short_pick_under_cancel_line_refunds_and_closes_the_remainder() -> None:
    state = released(rule(BackorderRule.CANCEL_LINE))
    short = ship("1ZA", [("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)], final=True)
    decision = decide(state, short, rule(BackorderRule.CANCEL_LINE))
    assert decision.state["status"] == "shipped"
    [refund] = commands(decision, "order.refund")
    assert refund.payload["refund_line_items"][0]["quantity"] == 1
    assert len(commands(decision, "sales_order.close")) == 1
    assert decision.state["cancelled_lines"] == {"11": 1}


def test_a_partial_shipment_that_is_not_final_is_no_short_pick() -> None:
    state = released()
    part = ship("1ZA", [("11", "CAF-ESP-1KG", 1)], final=False)
    decision = decide(state, part, ctx())
    assert decision.state["status"] == "partially_shipped"
    assert events(decision, "order.short_picked") == []


# ---- edits after release: the channel's view ------------------------------------------------


def test_a_shipment_is_capped_at_what_the_channel_order_still_has_open() -> None:
    state = released()
    lowered = order_data([("11", "CAF-ESP-1KG", 1), ("12", "MUG-BLK", 1)])
    state = decide(state, order_event("order.updated", lowered, 3), ctx()).state
    assert state["order"]["lines"][0]["quantity"] == 2  # rejected: the warehouse has 2
    decision = decide(state, ship("1ZA", [("11", "CAF-ESP-1KG", 2), ("12", "MUG-BLK", 1)]), ctx())
    [fulfilment] = commands(decision, "fulfillment.create")
    assert fulfilment.payload["shipments"][0]["lines"] == [
        {"line_item_id": 11, "quantity": 1},
        {"line_item_id": 12, "quantity": 1},
    ]
    [exception] = events(decision, "order.exception")
    assert exception.data["excess"] == [{"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 1}]
    cases = [c for c in commands(decision, "case.open") if "channel_excess" in c.step]
    assert len(cases) == 1
    [record] = commands(decision, "fulfillment.record")
    assert record.payload["shipment"]["lines"][0]["quantity"] == 2  # the ERP has the 2


def test_a_shipment_with_nothing_open_in_the_channel_sends_no_fulfilment() -> None:
    state = released()
    removed = order_data([("12", "MUG-BLK", 1)])
    state = decide(state, order_event("order.updated", removed, 3), ctx()).state
    decision = decide(state, ship("1ZA", [("11", "CAF-ESP-1KG", 2)]), ctx())
    assert commands(decision, "fulfillment.create") == []
    assert len(events(decision, "order.exception")) == 1


# ---- the hub's stock holds ------------------------------------------------------------------


def holding(**changes: Any) -> OrderContext:
    return ctx(reserves=True, held=dict(STOCK), **changes)


def releases(decision: Decision) -> list[tuple[str, str, str]]:
    return [
        (c.destination, c.payload["reason"], c.step)
        for c in decision.commands
        if c.kind == "reservation.release"
    ]


def test_a_held_order_is_released_as_committed_when_the_erp_has_it() -> None:
    state, [placed] = run([order_event("order.placed", order_data())], holding())
    assert state["held"] is True
    assert releases(placed) == []
    decision = decide(state, erp_created(), ctx(reserves=True))
    assert releases(decision) == [("availability", "committed", "reservation:committed")]
    assert decision.state["held"] is False
    assert decide(decision.state, erp_created(), ctx(reserves=True)).commands == ()


def test_a_cancelled_held_order_releases_its_hold() -> None:
    state, _ = run([order_event("order.placed", order_data())], holding())
    cancelled = order_event("order.cancelled", order_data(cancelled=True), 9)
    decision = decide(state, cancelled, ctx(reserves=True))
    assert releases(decision) == [("availability", "cancelled", "reservation:cancelled")]


def test_a_quarantined_order_releases_what_it_held() -> None:
    b2b = CustomerRef(kind="business", account_name="Kaffeehaus GmbH")
    state, [decision] = run([order_event("order.placed", order_data(customer=b2b))], holding())
    assert state["status"] == "quarantined"
    assert releases(decision) == [("availability", "quarantined", "reservation:quarantined")]


def test_a_backorder_held_by_a_stock_check_is_released_as_committed() -> None:
    short = ctx(reserves=True, held={}, availability=SHORT)
    state, _ = run([order_event("order.placed", order_data()), erp_created()], short)
    assert state["status"] == "backorder"
    assert state["held"] is False
    decision = decide(state, stock_check(1), holding())
    assert decision.state["status"] == "released_to_warehouse"
    assert releases(decision) == [("availability", "committed", "reservation:committed")]


def test_without_reservations_nothing_is_asked_of_the_availability() -> None:
    state, decisions = run(
        [
            order_event("order.placed", order_data()),
            erp_created(),
            order_event("order.cancelled", order_data(cancelled=True), 9),
        ]
    )
    assert all(releases(d) == [] for d in decisions)
    assert state["status"] == "cancelled_after_release"


def test_an_invalid_address_keeps_its_hold_until_cancelled() -> None:
    broken = order_data(ship_to=address(city=None))
    state, [decision] = run([order_event("order.placed", broken)], holding())
    assert state["status"] == "invalid_address"
    assert releases(decision) == []
    assert state["held"] is True


def test_a_part_release_result_does_not_link_a_second_warehouse_id() -> None:
    state, _ = split_state()
    state = decide(state, stock_check(2), rule(BackorderRule.SPLIT)).state
    answer = result("order.release", "warehouse", "shipstation", "release:2", {"order_id": 502})
    decision = decide(state, answer, ctx())
    assert decision.links == ()
    assert decision.state["parts"][1]["warehouse_id"] == "502"
