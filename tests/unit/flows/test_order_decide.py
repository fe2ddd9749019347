"""The order flow's pure decisions, one transition at a time (no store, no I/O)."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crossdock.canonical.address import Address
from crossdock.canonical.commands import failure_event, result_event
from crossdock.canonical.envelope import Event
from crossdock.canonical.money import Money
from crossdock.canonical.order import Cancellation, Order, OrderLine, OrderTotals, Payment
from crossdock.canonical.refs import CustomerRef, OrderRef
from crossdock.canonical.shipment import Shipment, ShipmentLine
from crossdock.flows.engine import Decision, FlowRejected
from crossdock.flows.order_fulfilment import (
    EditQuantitiesUntil,
    FraudRules,
    OrderContext,
    OrderFulfilmentSettings,
    Route,
    decide,
)

KEY = "0190f5a2-aaaa-7000-8000-000000000001"
GID = "gid://shopify/Order/7001"
SHOP = "shopify:acme.myshopify.com"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SETTINGS = OrderFulfilmentSettings(
    erp="netsuite",
    channels={"shopify": "shopify", "salesforce": "salesforce"},
    routing=(Route("edi_3pl", countries=("CA",)), Route("shipstation")),
    crm="salesforce",
    tracking="easypost",
    fraud=FraudRules(max_total=Decimal("1000.00"), country_mismatch_above=Decimal("200.00")),
)
STOCK = {"CAF-ESP-1KG": 20, "MUG-BLK": 5}
LINES = [("11", "CAF-ESP-1KG", 2), ("12", "MUG-BLK", 1)]
PRICES = {"CAF-ESP-1KG": "24.90", "MUG-BLK": "12.50", "ZZZ": "1.00", "GOLD": "1500.00"}


def address(country: str = "DE", city: str | None = "Berlin") -> Address:
    return Address(name="Zoë Ørsted", line1="Torstraße 1", city=city, country_code=country)


def order_data(
    lines: list[tuple[str, str, int]] = LINES,
    *,
    financial: str | None = "paid",
    ship_to: Address | None = None,
    bill_to: Address | None = None,
    customer: CustomerRef | None = None,
    tags: list[str] | None = None,
    payments: list[Payment] | None = None,
    cancelled: bool = False,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    built = [
        OrderLine(
            line_id=lid, sku=sku, title=sku, quantity=qty, unit_price=Money(PRICES[sku], "EUR")
        )
        for lid, sku, qty in lines
    ]
    total = sum((ln.unit_price * ln.quantity for ln in built), Money.zero("EUR")).quantize()
    order = Order(
        number="#7001",
        channel="shopify:web",
        customer=customer or CustomerRef(kind="consumer", email="zoe@example.com"),
        shipping_address=ship_to or address(),
        billing_address=bill_to or address(),
        currency="EUR",
        lines=built,
        totals=OrderTotals(total=total),
        status="cancelled" if cancelled else "open",
        cancellation=Cancellation(reason="customer", cancelled_at=T0) if cancelled else None,
        financial_status=financial,  # type: ignore[arg-type]
        payments=payments or [Payment(method="card")],
        placed_at=T0,
        updated_at=updated_at,
        tags=tags or [],
    )
    return order.model_dump(mode="json")


def ctx(**changes: Any) -> OrderContext:
    base = OrderContext(KEY, SETTINGS, dict(STOCK), None, {"shopify": GID})
    return replace(base, **changes)


def order_event(type_: str, data: dict[str, Any], n: int = 0) -> Event:
    return Event(
        source=SHOP,
        type=type_,
        subject=GID,
        time=T0 + timedelta(minutes=n),
        correlationid="corr-1",
        data=data,
    )


def result(kind: str, role: str, destination: str, step: str, res: dict[str, Any]) -> Event:
    return result_event(
        kind=kind,
        role=role,
        destination=destination,
        idempotency_key=f"order_fulfilment:{KEY}:{step}",
        payload={"instance": {"flow": "order_fulfilment", "key": KEY}},
        result=res,
        correlation_id="corr-1",
    )


def erp_created() -> Event:
    return result(
        "sales_order.create",
        "erp",
        "netsuite",
        "sales_order.create",
        {"netsuite_id": "9001", "external_id": KEY, "tran_id": "SO9001"},
    )


def shipment(
    tracking: str,
    lines: list[tuple[str, str, int]] | None,
    status: str = "pre_transit",
    source: str = "shipstation:acme",
    type_: str = "shipment.created",
) -> Event:
    data = Shipment(
        order=OrderRef(id=KEY, number="#7001"),
        carrier="UPS",
        tracking_number=tracking,
        status=status,  # type: ignore[arg-type]
        lines=[ShipmentLine(line_id=lid, sku=sku, quantity=q) for lid, sku, q in lines or []],
    ).model_dump(mode="json")
    return Event(source=source, type=type_, subject=tracking, correlationid="corr-1", data=data)


def run(events: list[Event], context: OrderContext | None = None) -> tuple[Any, list[Decision]]:
    state: Any = None
    decisions = []
    for event in events:
        decision = decide(state, event, context or ctx())
        decisions.append(decision)
        state = decision.state
    return state, decisions


def kinds(decision: Decision) -> list[tuple[str, str]]:
    return [(c.destination, c.kind) for c in decision.commands]


def released_state(**order: Any) -> Any:
    state, _ = run([order_event("order.placed", order_data(**order)), erp_created()])
    assert state["status"] == "released_to_warehouse"
    return state


# ---- placement and validation ---------------------------------------------------------------


def test_placed_order_is_validated_and_the_erp_order_asked_for() -> None:
    state, [decision] = run([order_event("order.placed", order_data())])
    assert state["status"] == "validated"
    assert state["order"]["id"] == KEY
    upsert, crm_upsert, create = decision.commands
    assert (upsert.destination, upsert.kind, upsert.step) == (
        "netsuite",
        "customer.upsert",
        "customer:erp",
    )
    customer = upsert.payload["customer"]
    # The CRM Account is asked for at once, so a later order of this customer finds it even
    # when this one never reaches the CRM.
    assert (crm_upsert.destination, crm_upsert.kind, crm_upsert.step) == (
        "salesforce",
        "customer.upsert",
        "crm:customer",
    )
    assert crm_upsert.payload["customer"] == customer
    assert crm_upsert.payload["key"] == {"field": "ERP_Id__c", "value": customer["id"]}
    assert customer["email"] == "zoe@example.com"
    assert customer["kind"] == "consumer"
    assert (create.destination, create.kind, create.step) == (
        "netsuite",
        "sales_order.create",
        "sales_order.create",
    )
    assert create.payload["order"]["id"] == KEY
    assert create.payload["order_id"] == KEY
    assert create.payload["customer_id"] == customer["id"] == state["customer_id"]
    assert create.payload["instance"] == {"flow": "order_fulfilment", "key": KEY}
    links = {(link.system, link.external_id) for link in decision.links}
    assert links == {("shopify", GID), ("order_number", "#7001"), ("email", "zoe@example.com")}
    assert [h["to"] for h in state["history"]] == ["validated"]


def test_unknown_sku_quarantines_with_the_sku_named() -> None:
    data = order_data([("1", "ZZZ", 1), ("2", "MUG-BLK", 1)])
    state, [decision] = run([order_event("order.placed", data)])
    assert state["status"] == "quarantined"
    assert state["reason"] == "unknown SKU: ZZZ"
    assert decision.commands == ()
    assert [(e.type, e.data["reason"]) for e in decision.events] == [
        ("order.quarantined", "unknown SKU: ZZZ")
    ]


def test_business_customer_without_a_link_is_quarantined() -> None:
    b2b = CustomerRef(kind="business", account_name="Kaffeehaus GmbH")
    state, _ = run([order_event("order.placed", order_data(customer=b2b))])
    assert state["status"] == "quarantined"
    assert "unmapped customer" in state["reason"]
    assert "Kaffeehaus GmbH" in state["reason"]


def test_business_customer_with_a_link_goes_to_the_erp_with_its_hub_id() -> None:
    b2b = CustomerRef(kind="business", account_name="Kaffeehaus GmbH")
    _, [decision] = run(
        [order_event("order.placed", order_data(customer=b2b))], ctx(customer_id="cust-1")
    )
    [create] = decision.commands
    assert create.kind == "sales_order.create"
    assert create.payload["customer_id"] == "cust-1"
    assert create.payload["order"]["customer"]["id"] == "cust-1"


def test_invalid_address_opens_a_case_and_a_fixed_address_validates() -> None:
    broken = order_data(ship_to=address(city=None))
    state, [first, second] = run(
        [order_event("order.placed", broken), order_event("order.updated", order_data(), 1)]
    )
    assert first.state["status"] == "invalid_address"
    assert kinds(first) == [("salesforce", "case.open")]
    assert first.commands[0].payload["exception_id"] == f"{KEY}:invalid_address"
    assert state["status"] == "validated"
    assert kinds(second) == [
        ("netsuite", "customer.upsert"),
        ("salesforce", "customer.upsert"),
        ("netsuite", "sales_order.create"),
    ]


def test_a_shipment_of_an_order_never_placed_is_rejected() -> None:
    with pytest.raises(FlowRejected, match="not seen placed"):
        decide(None, shipment("1ZA", None), ctx())


def test_order_data_that_does_not_add_up_is_rejected() -> None:
    data = order_data()
    data["totals"]["total"]["amount"] = "1.00"
    with pytest.raises(FlowRejected, match="totals"):
        decide(None, order_event("order.placed", data), ctx())


def test_an_order_from_an_unconfigured_channel_is_rejected() -> None:
    data = order_data()
    data["channel"] = "amazon:eu"
    event = order_event("order.placed", data).model_copy(update={"source": "amazon:eu"})
    with pytest.raises(FlowRejected, match="not a configured channel"):
        decide(None, event, ctx())


# ---- ERP, CRM and the release gate ----------------------------------------------------------


def test_erp_result_tells_the_crm_and_releases_a_paid_order_by_routing() -> None:
    state, [_, decision] = run([order_event("order.placed", order_data()), erp_created()])
    assert [h["to"] for h in state["history"]] == [
        "validated",
        "erp_order_created",
        "crm_told",
        "released_to_warehouse",
    ]
    assert kinds(decision) == [
        ("salesforce", "order.create"),
        ("shipstation", "order.release"),
    ]
    account = {"field": "ERP_Id__c", "value": state["customer_id"]}
    crm_order = decision.commands[0].payload
    assert crm_order["order_key"] == "7001"
    assert crm_order["account"] == account
    release = decision.commands[1]
    assert release.payload["order_key"] == KEY
    assert state["ids"]["netsuite"] == "9001"
    assert ("netsuite", "9001") in {(ln.system, ln.external_id) for ln in decision.links}


def test_canadian_orders_go_to_the_edi_3pl() -> None:
    data = order_data(ship_to=address("CA", "Toronto"), bill_to=address("CA", "Toronto"))
    _, [_, decision] = run([order_event("order.placed", data), erp_created()])
    assert ("edi_3pl", "order.release") in kinds(decision)


def test_without_a_crm_the_order_skips_crm_told() -> None:
    no_crm = replace(SETTINGS, crm=None)
    state, [_, decision] = run(
        [order_event("order.placed", order_data()), erp_created()], ctx(settings=no_crm)
    )
    assert "crm_told" not in [h["to"] for h in state["history"]]
    assert kinds(decision) == [("shipstation", "order.release")]


def test_pending_payment_holds_and_capture_releases() -> None:
    state, [_, held, captured] = run(
        [
            order_event("order.placed", order_data(financial="pending")),
            erp_created(),
            order_event("order.updated", order_data(financial="paid"), 2),
        ]
    )
    assert held.state["status"] == "payment_held"
    assert ("shipstation", "order.release") not in kinds(held)
    assert state["status"] == "released_to_warehouse"
    assert kinds(captured) == [("shipstation", "order.release")]


def test_authorized_payment_releases() -> None:
    released_state(financial="authorized")


def test_payment_on_invoice_releases_without_a_financial_status() -> None:
    released_state(financial=None, payments=[Payment(method="invoice")])


def test_voided_payment_fails_and_opens_a_case() -> None:
    state, [*_, voided] = run(
        [
            order_event("order.placed", order_data(financial="pending")),
            erp_created(),
            order_event("order.updated", order_data(financial="voided"), 2),
        ]
    )
    assert state["status"] == "payment_failed"
    assert ("salesforce", "case.open") in kinds(voided)
    assert [e.type for e in voided.events] == ["order.payment_failed"]


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ({"tags": ["High_Risk"]}, "tagged high_risk"),
        ({"lines": [("1", "GOLD", 1)]}, "above 1000.00"),
        ({"bill_to": address("US", "Austin"), "lines": [("1", "CAF-ESP-1KG", 10)]}, "differs"),
    ],
)
def test_fraud_rules_hold_the_order(order: dict[str, Any], reason: str) -> None:
    stock = {**STOCK, "GOLD": 3}
    state, [_, decision] = run(
        [order_event("order.placed", order_data(**order)), erp_created()], ctx(availability=stock)
    )
    assert state["status"] == "fraud_hold"
    assert reason in state["reason"]
    assert ("salesforce", "case.open") in kinds(decision)


def test_short_stock_backorders_after_the_erp_and_restock_releases() -> None:
    short = ctx(availability={"CAF-ESP-1KG": 1, "MUG-BLK": 5})
    state, [placed, backordered] = run(
        [order_event("order.placed", order_data()), erp_created()], short
    )
    assert placed.state["status"] == "validated"
    assert placed.state["short"] == {"CAF-ESP-1KG": 1}
    assert state["status"] == "backorder"
    assert ("salesforce", "case.open") in kinds(backordered)
    assert [e.type for e in backordered.events] == ["order.backordered"]
    restocked = decide(state, order_event("order.updated", order_data(), 3), ctx())
    assert restocked.state["status"] == "released_to_warehouse"


# ---- shipments, delivery, invoice ---------------------------------------------------------


def test_a_partial_shipment_is_recorded_in_every_system() -> None:
    state = released_state()
    decision = decide(state, shipment("1ZA", [("11", "CAF-ESP-1KG", 2)]), ctx())
    assert decision.state["status"] == "partially_shipped"
    assert kinds(decision) == [
        ("netsuite", "fulfillment.record"),
        ("shopify", "fulfillment.create"),
        ("easypost", "shipment.track"),
        ("salesforce", "order.update_status"),
    ]
    recorded = decision.commands[0].payload["shipment"]
    assert recorded["order"]["id"] == KEY
    assert recorded["id"]
    assert recorded["lines"] == [{"line_id": "11", "sku": "CAF-ESP-1KG", "quantity": 2}]
    crm = decision.commands[3].payload
    assert crm["shipment"] == {"tracking_number": "1ZA", "carrier": "UPS"}
    assert "status" not in crm
    fulfilment = decision.commands[1].payload
    assert fulfilment["order_id"] == 7001
    assert fulfilment["shipments"][0]["lines"] == [{"line_item_id": 11, "quantity": 2}]
    assert fulfilment["shipments"][0]["tracking_number"] == "1ZA"


def test_the_same_shipment_twice_writes_nothing_new() -> None:
    state = decide(released_state(), shipment("1ZA", [("11", "CAF-ESP-1KG", 2)]), ctx()).state
    again = decide(state, shipment("1ZA", [("11", "CAF-ESP-1KG", 2)]), ctx())
    assert again.commands == ()
    assert again.state["status"] == "partially_shipped"


def test_a_shipment_without_lines_ships_everything_left() -> None:
    decision = decide(released_state(), shipment("1ZA", None), ctx())
    assert decision.state["status"] == "shipped"
    lines = decision.state["shipments"]["1ZA"]["lines"]
    assert {(ln["line_id"], ln["quantity"]) for ln in lines} == {("11", 2), ("12", 1)}


def test_tracking_updates_from_the_tracker_do_not_start_tracking_again() -> None:
    state = released_state()
    event = shipment("1ZA", None, "in_transit", source="easypost:acme", type_="shipment.updated")
    decision = decide(state, event, ctx())
    assert ("easypost", "shipment.track") not in kinds(decision)


def test_delivery_invoices_and_a_paid_invoice_closes() -> None:
    state = decide(released_state(), shipment("1ZA", None), ctx()).state
    delivered = decide(state, shipment("1ZA", None, "delivered", type_="shipment.updated"), ctx())
    assert delivered.state["status"] == "delivered"
    assert ("netsuite", "invoice.create") in kinds(delivered)
    invoiced = result("invoice.create", "erp", "netsuite", "invoice", {"netsuite_id": "77"})
    closed = decide(delivered.state, invoiced, ctx())
    assert closed.state["status"] == "closed"
    assert closed.state["ids"]["invoice"] == "77"


def test_a_late_scan_never_takes_a_parcel_back_from_delivered() -> None:
    # Two parcels: the first is delivered, then a retried in_transit of it arrives late; when
    # the second is delivered the order is delivered and invoiced all the same.
    lines = [("1", "MUG-BLK", 1)]
    state = decide(released_state(), shipment("1ZA", lines), ctx()).state
    state = decide(state, shipment("1ZB", None), ctx()).state
    updated = "shipment.updated"
    state = decide(state, shipment("1ZA", lines, "delivered", type_=updated), ctx()).state
    late = decide(state, shipment("1ZA", lines, "in_transit", type_=updated), ctx())
    assert late.state == state
    assert late.commands == ()
    state = decide(state, shipment("1ZB", None, "out_for_delivery", type_=updated), ctx()).state
    behind = decide(state, shipment("1ZB", None, "in_transit", type_=updated), ctx()).state
    assert behind["shipments"]["1ZB"]["status"] == "out_for_delivery"
    delivered = decide(behind, shipment("1ZB", None, "delivered", type_=updated), ctx())
    assert delivered.state["status"] == "delivered"
    assert ("netsuite", "invoice.create") in kinds(delivered)


def test_an_unpaid_invoice_waits_for_invoice_paid() -> None:
    state = released_state(financial=None, payments=[Payment(method="invoice")])
    state = decide(state, shipment("1ZA", None), ctx()).state
    state = decide(state, shipment("1ZA", None, "delivered", type_="shipment.updated"), ctx()).state
    state = decide(
        state, result("invoice.create", "erp", "netsuite", "invoice", {"netsuite_id": "I"}), ctx()
    ).state
    assert state["status"] == "invoiced"
    paid = Event(
        source="netsuite:acme",
        type="invoice.paid",
        subject="I",
        correlationid="c",
        data={"order": {"id": KEY}},
    )
    assert decide(state, paid, ctx()).state["status"] == "closed"


# ---- cancellations and edits --------------------------------------------------------------


def cancelled(financial: str = "paid") -> Event:
    return order_event("order.cancelled", order_data(financial=financial, cancelled=True), 9)


def test_cancel_before_the_erp_order_closes_nothing() -> None:
    state, [_, decision] = run(
        [order_event("order.placed", order_data(ship_to=address(city=None))), cancelled("voided")]
    )
    assert state["status"] == "cancelled"
    assert decision.commands == ()


def test_cancel_before_release_closes_the_erp_order_and_refunds() -> None:
    state, [*_, decision] = run(
        [order_event("order.placed", order_data()), cancelled()],
    )
    assert state["status"] == "cancelled"
    assert kinds(decision) == [
        ("netsuite", "sales_order.close"),
        ("shopify", "order.refund"),
    ]


def test_cancel_after_release_compensates_everywhere() -> None:
    decision = decide(released_state(), cancelled(), ctx())
    assert decision.state["status"] == "cancelled_after_release"
    assert kinds(decision) == [
        ("shipstation", "order.cancel"),
        ("netsuite", "sales_order.close"),
        ("shopify", "order.refund"),
        ("salesforce", "case.open"),
    ]
    refund = decision.commands[2].payload
    assert refund["order_id"] == 7001
    assert [i["line_item_id"] for i in refund["refund_line_items"]] == [11, 12]
    assert decision.commands[0].payload["order_key"] == KEY


def test_cancel_after_shipping_is_rejected_as_an_exception_event() -> None:
    state = decide(released_state(), shipment("1ZA", None), ctx()).state
    decision = decide(state, cancelled(), ctx())
    assert decision.state["status"] == "shipped"
    assert decision.commands == ()
    assert [e.type for e in decision.events] == ["order.cancel_rejected"]


def test_address_edit_before_release_goes_to_the_erp() -> None:
    state, _ = run([order_event("order.placed", order_data(financial="pending")), erp_created()])
    moved = order_data(financial="pending", ship_to=address("AT", "Wien"))
    decision = decide(state, order_event("order.updated", moved, 3), ctx())
    [command] = decision.commands
    assert command.kind == "sales_order.update"
    assert command.payload["order_id"] == KEY
    assert command.payload["changes"]["shipping_address"]["city"] == "Wien"


def test_address_edit_after_release_is_rejected_and_not_applied() -> None:
    state = released_state()
    moved = order_data(ship_to=address("DE", "München"))
    decision = decide(state, order_event("order.updated", moved, 3), ctx())
    assert [e.type for e in decision.events] == ["order.edit_rejected"]
    assert decision.state["order"]["shipping_address"]["city"] == "Berlin"


def test_quantity_edit_after_the_erp_order_is_rejected_under_the_erp_policy() -> None:
    state, _ = run([order_event("order.placed", order_data(financial="pending")), erp_created()])
    more = order_data([("11", "CAF-ESP-1KG", 5), ("12", "MUG-BLK", 1)], financial="pending")
    policy = replace(SETTINGS, edit_quantities_until=EditQuantitiesUntil.ERP)
    decision = decide(state, order_event("order.updated", more, 3), ctx(settings=policy))
    assert [e.type for e in decision.events] == ["order.edit_rejected"]
    assert decision.state["order"]["lines"][0]["quantity"] == 2


# ---- failures, purity ---------------------------------------------------------------------


def test_a_dead_command_is_recorded_and_announced() -> None:
    state, _ = run([order_event("order.placed", order_data())])
    failed = failure_event(
        kind="sales_order.create",
        destination="netsuite",
        idempotency_key=f"order_fulfilment:{KEY}:sales_order.create",
        payload={"instance": {"flow": "order_fulfilment", "key": KEY}},
        reason="permanent: invalid item",
        correlation_id="corr-1",
    )
    decision = decide(state, failed, ctx())
    assert decision.state["status"] == "validated"
    assert decision.state["failures"][0]["reason"] == "permanent: invalid item"
    assert [e.type for e in decision.events] == ["order.command_failed"]


def test_decide_is_pure() -> None:
    state, _ = run([order_event("order.placed", order_data())])
    before = copy.deepcopy(state)
    first = decide(state, erp_created(), ctx())
    second = decide(state, erp_created(), ctx())
    assert state == before
    assert first == second


def test_a_second_placement_changes_nothing() -> None:
    state, _ = run([order_event("order.placed", order_data())])
    again = decide(state, order_event("order.placed", order_data()), ctx())
    assert again.state == state
    assert again.commands == ()


def test_an_invoiced_order_closes_when_the_channel_reports_it_paid() -> None:
    state = released_state(financial="authorized")
    state = decide(state, shipment("1ZA", None), ctx()).state
    state = decide(state, shipment("1ZA", None, "delivered", type_="shipment.updated"), ctx()).state
    state = decide(
        state, result("invoice.create", "erp", "netsuite", "invoice", {"netsuite_id": "I"}), ctx()
    ).state
    assert state["status"] == "invoiced"
    paid = decide(state, order_event("order.updated", order_data(financial="paid"), 5), ctx())
    assert paid.state["status"] == "closed"
    assert paid.commands == ()


def test_an_older_order_state_delivered_late_is_ignored() -> None:
    later, earlier = T0 + timedelta(minutes=10), T0 + timedelta(minutes=5)
    state, _ = run(
        [
            order_event("order.placed", order_data(financial="pending")),
            erp_created(),
            order_event("order.updated", order_data(financial="paid", updated_at=later), 2),
        ]
    )
    assert state["status"] == "released_to_warehouse"
    stale = order_data(financial="pending", ship_to=address("AT", "Wien"), updated_at=earlier)
    decision = decide(state, order_event("order.updated", stale, 3), ctx())
    assert decision.state == state
    assert decision.commands == ()
    assert decision.events == ()
