"""The NetSuite connector against its simulator on loopback: the ERP commands end to end.

The kit's standard battery runs in `test_conformance.py`; these are NetSuite's own cases
(sales order by external id, transforms moving the status, backorders, the settled timeout,
the concurrency limit shared by two instances, NetSuite's error codes).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from crossdock.canonical.ids import new_id
from crossdock.connectorkit import (
    AuthFailedError,
    ConflictError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectors.netsuite import (
    CUSTOMER_UPSERT,
    FULFILLMENT_RECORD,
    INVOICE_CREATE,
    RETURN_AUTHORIZE,
    RETURN_CREDIT,
    SALES_ORDER_CREATE,
    NetSuiteConnector,
)
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.kit import FaultAction, FaultInjector, FaultSpec

from .builders import command, customer, order, return_, shipment
from .conftest import Rig


async def _customer(connector: NetSuiteConnector) -> str:
    customer_id = new_id()
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    return customer_id


async def _order(
    connector: NetSuiteConnector, lines: list[tuple[str, int, str]], **extra: Any
) -> tuple[str, dict[str, Any]]:
    customer_id = await _customer(connector)
    order_id = new_id()
    payload = {"order": order(order_id, lines), "customer_id": customer_id, **extra}
    result = await connector.perform(command(SALES_ORDER_CREATE, payload))
    return order_id, result


async def test_customer_upsert_twice_is_one_record(rig: Rig) -> None:
    connector = rig.connector()
    customer_id = new_id()
    first = await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(customer_id)}))
    renamed = {"customer": customer(customer_id, name="Acme Wholesale")}
    again = await connector.perform(command(CUSTOMER_UPSERT, renamed))
    assert first["netsuite_id"] == again["netsuite_id"]
    entry = rig.sim.effects.get("customer", customer_id)
    assert entry is not None
    assert (entry.attempts, entry.created, entry.duplicates_absorbed) == (2, 1, 1)
    record = await connector.find("customer", customer_id)
    assert record is not None
    assert record["companyName"] == "Acme Wholesale"


async def test_create_sales_order_twice_is_one_record(rig: Rig) -> None:
    connector = rig.connector()
    customer_id = await _customer(connector)
    order_id = new_id()
    payload = {"order": order(order_id, [("SKU-RED-M", 2, "25.20")]), "customer_id": customer_id}
    first = await connector.perform(command(SALES_ORDER_CREATE, payload, key="flow:so"))
    again = await connector.perform(command(SALES_ORDER_CREATE, payload, key="flow:so"), attempt=2)
    assert first == again
    assert first["external_id"] == order_id
    assert first["status"] == {"id": "B", "refName": "Pending Fulfillment"}
    entry = rig.sim.effects.get("salesOrder", order_id)
    assert entry is not None
    assert (entry.attempts, entry.created) == (1, 1)
    assert len(rig.sim.erp.records["salesOrder"]) == 1


def _seed_for(pattern: list[FaultAction], spec: FaultSpec) -> int:
    """A seed under which the injector's first decisions follow ``pattern`` (found, not
    assumed: the injector itself is asked)."""
    for seed in range(10_000):
        probe = FaultInjector(seed)
        probe.configure(spec.model_copy(update={"seed": seed}))
        if [probe.decide().action for _ in pattern] == pattern:
            return seed
    raise AssertionError("no seed gives that pattern")


async def test_an_ambiguous_timeout_is_settled_by_lookup_not_by_a_second_create(rig: Rig) -> None:
    connector = rig.connector()
    customer_id = await _customer(connector)
    order_id = new_id()
    payload = {"order": order(order_id, [("SKU-RED-M", 1, "25.20")]), "customer_id": customer_id}
    # The lookup passes, the PUT takes effect and its answer is lost (504), the settling
    # lookup passes.
    spec = FaultSpec(error_rate=0.5, error_status=504, fault_phase="after")
    pattern = [FaultAction.PASS, FaultAction.ERROR, FaultAction.PASS]
    rig.sim.faults.configure(spec.model_copy(update={"seed": _seed_for(pattern, spec)}))
    result = await connector.perform(command(SALES_ORDER_CREATE, payload))
    rig.sim.faults.clear()
    assert result["external_id"] == order_id
    entry = rig.sim.effects.get("salesOrder", order_id)
    assert entry is not None
    assert (entry.attempts, entry.created) == (1, 1)
    calls = rig.sim.requests.recent(path_prefix="/services/rest/record")[-3:]
    assert [(r.method, r.fault) for r in calls] == [
        ("GET", "pass"),
        ("PUT", "error"),
        ("GET", "pass"),
    ]


async def test_fulfilments_and_invoices_move_the_order_status(rig: Rig) -> None:
    connector = rig.connector()
    lines = [("SKU-RED-M", 2, "25.20"), ("SKU-BLUE-L", 1, "30.00")]
    order_id, _ = await _order(connector, lines)
    first = shipment(new_id(), order_id, [("SKU-RED-M", 2)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": first}))
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": first}))  # redelivered
    status = await connector.order_status(order_id)
    assert status is not None
    assert status["status"]["refName"] == "Pending Billing/Partially Fulfilled"
    assert rig.sim.effects.get("itemFulfillment", first["id"]).created == 1  # type: ignore[union-attr]
    assert len(rig.sim.erp.records["itemFulfillment"]) == 1
    second = shipment(new_id(), order_id, [("SKU-BLUE-L", 1)])
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": second}))
    status = await connector.order_status(order_id)
    assert status is not None
    assert status["status"]["refName"] == "Pending Billing"
    invoice_id = new_id()
    invoice = {"order_id": order_id, "invoice_id": invoice_id}
    billed = await connector.perform(command(INVOICE_CREATE, invoice))
    await connector.perform(command(INVOICE_CREATE, invoice))
    assert billed["external_id"] == invoice_id
    assert len(rig.sim.erp.records["invoice"]) == 1
    record = await connector.find("invoice", invoice_id)
    assert record is not None
    assert str(record["total"]) == "80.40"
    status = await connector.order_status(order_id)
    assert status is not None
    assert status["status"] == {"id": "G", "refName": "Billed"}


async def test_a_short_stock_backorders_and_a_receipt_commits_it(rig: Rig) -> None:
    connector = rig.connector()
    order_id, _ = await _order(connector, [("SKU-BLUE-L", 5, "30.00")], location_id="1")
    status = await connector.order_status(order_id)
    assert status is not None
    line = status["lines"][0]
    assert (line["quantityCommitted"], line["quantityBackOrdered"]) == (3, 2)
    stock = rig.sim.erp.stock_at("5502", "1")
    assert (stock.on_hand, stock.committed, stock.available) == (3, 3, 0)
    too_many = shipment(new_id(), order_id, [("SKU-BLUE-L", 5)])
    with pytest.raises(PermanentFailureError, match="USER_ERROR"):
        await connector.perform(command(FULFILLMENT_RECORD, {"shipment": too_many}))
    await rig.admin("POST", "/netsuite/stock", {"item": "5502", "location": "1", "on_hand": 10})
    status = await connector.order_status(order_id)
    assert status is not None
    line = status["lines"][0]
    assert (line["quantityCommitted"], line["quantityBackOrdered"]) == (5, 0)
    await connector.perform(command(FULFILLMENT_RECORD, {"shipment": too_many}))
    assert rig.sim.erp.stock_at("5502", "1").on_hand == 5


async def test_a_return_authorization_and_its_credit_memo(rig: Rig) -> None:
    connector = rig.connector()
    order_id, _ = await _order(connector, [("SKU-RED-M", 3, "25.20")])
    await connector.perform(
        command(FULFILLMENT_RECORD, {"shipment": shipment(new_id(), order_id, [("SKU-RED-M", 3)])})
    )
    return_id = new_id()
    ret = {"return": return_(return_id, order_id, [("SKU-RED-M", 1)])}
    authorised = await connector.perform(command(RETURN_AUTHORIZE, ret))
    await connector.perform(command(RETURN_AUTHORIZE, ret))
    assert authorised["status"]["refName"] == "Pending Receipt"
    credited = await connector.perform(command(RETURN_CREDIT, {"return_id": return_id}))
    again = await connector.perform(command(RETURN_CREDIT, {"return_id": return_id}))
    assert credited == again
    memo = await connector.find("creditMemo", f"{return_id}:credit")
    assert memo is not None
    assert str(memo["total"]) == "25.20"
    assert len(rig.sim.erp.records["returnAuthorization"]) == 1
    assert len(rig.sim.erp.records["creditMemo"]) == 1
    ra = await connector.find("returnAuthorization", return_id, expand=False)
    assert ra is not None
    assert ra["status"]["refName"] == "Refunded"


async def test_error_classes(rig: Rig) -> None:
    connector = rig.connector()
    with pytest.raises(PermanentFailureError, match="NONEXISTENT_ID"):
        await connector.read("salesOrder", "999999")
    fulfil_unknown = shipment(new_id(), new_id(), [("SKU-RED-M", 1)])
    with pytest.raises(ConflictError, match="NONEXISTENT_ID"):
        await connector.perform(command(FULFILLMENT_RECORD, {"shipment": fulfil_unknown}))
    unknown_item = {"order": order(new_id(), [("NO-SUCH-SKU", 1, "1.00")])}
    unknown_item["customer_id"] = await _customer(connector)
    with pytest.raises(PermanentFailureError, match=r"INVALID_VALUE.*item\.items\[0\]\.item"):
        await connector.perform(command(SALES_ORDER_CREATE, unknown_item))
    no_customer = {"order": order(new_id(), [("SKU-RED-M", 1, "25.20")]), "customer_id": new_id()}
    with pytest.raises(ConflictError, match="not in NetSuite yet"):
        await connector.perform(command(SALES_ORDER_CREATE, no_customer))
    with pytest.raises(PermanentFailureError, match="INVALID_PARAMETER"):
        await connector.suiteql_page("DELETE FROM item")
    wrong = rig.connector(token_secret="not-the-secret")
    with pytest.raises(AuthFailedError, match="INVALID_LOGIN"):
        await wrong.read("inventoryItem", "5501")
    rig.sim.faults.configure(FaultSpec(error_rate=1.0, error_status=503))
    with pytest.raises(RetryLaterError):
        await connector.read("inventoryItem", "5501")
    rig.sim.faults.configure(FaultSpec(error_rate=1.0, error_status=429))
    with pytest.raises(RateLimitedError):
        await connector.read("inventoryItem", "5501")
    rig.sim.faults.clear()


async def test_the_concurrency_limit_answers_429_and_the_slots_keep_under_it(rig: Rig) -> None:
    rig.sim.processing_s = 0.2  # each call holds its slot long enough for the others to pile up
    url = f"{rig.rest}/record/v1/inventoryItem/5501"
    raw = await asyncio.gather(*(rig.signed("GET", url) for _ in range(40)))
    statuses = [status for status, _, _ in raw]
    assert 429 in statuses
    refused = next(body for status, body, _ in raw if status == 429)
    assert refused["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    before = rig.sim.traffic.refused
    rig.sim.traffic.max_in_flight = 0
    rig.sim.processing_s = 0.02
    connector = rig.connector(rate_budget=None)  # the process's shared slots (15)
    other = rig.connector(rate_budget=None)  # a second instance of the same account
    assert connector.rate_budget is other.rate_budget
    reads = [c.read("inventoryItem", "5501") for c in (connector, other) for _ in range(30)]
    records = await asyncio.gather(*reads)
    assert {r["itemId"] for r in records} == {"SKU-RED-M"}
    assert rig.sim.traffic.refused == before
    assert rig.sim.traffic.max_in_flight <= 15


async def test_closing_every_line_closes_the_order_and_frees_its_stock(rig: Rig) -> None:
    connector = rig.connector()
    order_id, created = await _order(connector, [("SKU-BLUE-L", 2, "30.00")], location_id="1")
    assert rig.sim.erp.stock_at("5502", "1").committed == 2
    await connector.request(
        "PATCH",
        f"record/v1/salesOrder/{created['netsuite_id']}",
        json={"item": {"items": [{"line": 1, "isClosed": True}]}},
    )
    status = await connector.order_status(order_id)
    assert status is not None
    assert status["status"] == {"id": "H", "refName": "Closed"}
    assert rig.sim.erp.stock_at("5502", "1").committed == 0


async def test_a_refused_signature_is_signed_afresh_once_then_dead_lettered(rig: Rig) -> None:
    stale = ManualClock(datetime(2020, 1, 1, tzinfo=UTC))
    connector = rig.connector(clock=stale)
    with pytest.raises(AuthFailedError):
        await connector.read("inventoryItem", "5501")
    refusals = rig.sim.tba.refusals
    assert len(refusals) == 2
    assert all("s from now" in reason for reason in refusals)
    stale.advance((datetime.now(UTC) - stale.now()).total_seconds())
    record = await connector.read("inventoryItem", "5501")
    assert record["itemId"] == "SKU-RED-M"


async def test_an_injected_throttle_tightens_the_concurrency_limit(rig: Rig) -> None:
    rig.sim.faults.configure(FaultSpec(throttle_factor=0.2))
    rig.sim.processing_s = 0.3
    url = f"{rig.rest}/record/v1/inventoryItem/5501"
    raw = await asyncio.gather(*(rig.signed("GET", url) for _ in range(8)))
    assert 429 in [status for status, _, _ in raw]
    assert rig.sim.traffic.max_in_flight <= 3  # 15 x 0.2


async def test_external_ids_with_reserved_characters_are_encoded_and_signed(rig: Rig) -> None:
    connector = rig.connector()
    odd = "ACME Café/01 +x"
    await connector.perform(command(CUSTOMER_UPSERT, {"customer": customer(odd)}))
    found = await connector.find("customer", odd)
    assert found is not None
    assert found["externalId"] == odd
    url = f"{rig.rest}/record/v1/customer/eid:ACME%20Caf%C3%A9%2F01%20%2Bx"
    status, body, _ = await rig.signed("GET", url)
    assert (status, body["externalId"]) == (200, odd)
