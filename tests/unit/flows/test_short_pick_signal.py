"""A short pick from the EDI 3PL's 945 to the order flow's decision.

The 945 says whether it is final for its warehouse order (W0601 ``F``/``P``) and which lines
shipped short; the inbound map carries that on the last canonical shipment, and the flow turns
the missing units into a backorder.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossdock.canonical.envelope import Event
from crossdock.canonical.shipment import Shipment
from crossdock.connectors.edi.maps import advice_to_shipments, read_945
from crossdock.connectors.edi.x12 import read_x12
from crossdock.flows.order_fulfilment import BackorderRule, decide

from .test_order_decide import KEY, SETTINGS, ctx, erp_created, order_data, order_event, run

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "edi" / "945_default.x12"
LINES = [("1", "CAF-ESP-1KG", 2), ("2", "MUG-BLK", 3)]  # the 945 ships 2 of line 1, 1 of line 2


def shipments(text: bytes) -> list[Shipment]:
    ts = read_x12(text).interchanges[0].groups[0].sets[0]
    advice = read_945(ts).value
    assert advice is not None
    return advice_to_shipments(advice, location="acme-reno")


def released() -> Any:
    data = order_data(LINES)
    data["number"] = "SO-1042"
    state, _ = run([order_event("order.placed", data), erp_created()])
    assert state["status"] == "released_to_warehouse"
    return state


def as_event(shipment: Shipment, n: int) -> Event:
    return Event(
        source="crossdock:edi_3pl",
        type="shipment.updated",
        subject=f"edi:{n}",
        correlationid="c",
        data=shipment.model_dump(mode="json"),
    )


def test_a_final_945_carries_final_and_its_short_lines() -> None:
    [shipment] = shipments(FIXTURE.read_bytes())
    assert shipment.final is True
    assert shipment.short_lines is not None
    assert [(ln.line_id, ln.sku, ln.quantity) for ln in shipment.short_lines] == [
        ("2", "MUG-WHT", 2)
    ]


def test_a_partial_945_is_not_final() -> None:
    [shipment] = shipments(FIXTURE.read_bytes().replace(b"W06*F*", b"W06*P*"))
    assert shipment.final is False


def test_only_the_last_shipment_of_a_final_945_is_final() -> None:
    text = FIXTURE.read_bytes().replace(b"N9*LI*2", b"N9*LI*2~MAN*CP*1ZSECOND")
    first, last = shipments(text)
    assert (first.final, first.short_lines) == (False, None)
    assert last.final is True
    assert last.short_lines is not None


def test_the_flow_backorders_what_a_final_945_did_not_ship() -> None:
    stock = ctx(availability={"CAF-ESP-1KG": 20, "MUG-BLK": 5})
    state = released()
    [shipment] = shipments(FIXTURE.read_bytes())
    skus = {"TSHIRT-BLK-M": "CAF-ESP-1KG", "MUG-WHT": "MUG-BLK"}
    lines = [ln.model_copy(update={"sku": skus[str(ln.sku)]}) for ln in shipment.lines]
    shipment = shipment.model_copy(update={"lines": lines})
    decision = decide(state, as_event(shipment, 1), stock)
    assert decision.state["status"] == "partial_backorder"
    assert decision.state["pending"] == {"2": 2}
    [picked] = [e for e in decision.events if e.type == "order.short_picked"]
    assert picked.data["order_id"] == KEY
    again = decide(
        decision.state,
        Event(
            source="crossdock:hub",
            type="order.stock_check",
            subject=KEY,
            correlationid="c",
            data={"order_id": KEY},
        ),
        stock,
    )
    [release] = [c for c in again.commands if c.kind == "order.release"]
    assert release.payload["order"]["number"] == "SO-1042-2"
    assert [(ln["line_id"], ln["quantity"]) for ln in release.payload["order"]["lines"]] == [
        ("2", 2)
    ]


def nothing_shipped() -> bytes:
    """The fixture 945 with every line shipped at zero."""
    return (
        FIXTURE.read_bytes()
        .replace(b"W12*CC*2*2*0*", b"W12*PR*2*0*2*")
        .replace(b"W12*PR*3*1*2*", b"W12*PR*3*0*3*")
    )


def test_a_final_945_that_shipped_nothing_is_a_notice_without_lines() -> None:
    [notice] = shipments(nothing_shipped())
    assert notice.lines == []
    assert notice.final is True
    assert notice.short_lines is not None
    assert [(ln.line_id, ln.quantity) for ln in notice.short_lines] == [("1", 2), ("2", 3)]


@pytest.mark.parametrize(
    ("rule", "status", "pending"),
    [
        (BackorderRule.HOLD, "partial_backorder", {"1": 2, "2": 3}),
        (BackorderRule.CANCEL_LINE, "cancelled_after_release", {}),
    ],
)
def test_a_notice_that_nothing_shipped_applies_the_rule(
    rule: BackorderRule, status: str, pending: dict[str, int]
) -> None:
    context = ctx(settings=replace(SETTINGS, backorder=rule))
    state = released()
    [notice] = shipments(nothing_shipped())
    decision = decide(state, as_event(notice, 1), context)
    assert decision.state["status"] == status
    assert decision.state.get("pending", {}) == pending
    assert decision.state["shipments"] == {}
    kinds = [c.kind for c in decision.commands]
    assert "fulfillment.record" not in kinds
    assert "fulfillment.create" not in kinds
    if rule is BackorderRule.CANCEL_LINE:
        assert kinds.count("sales_order.close") == 1
        assert kinds.count("order.refund") == 1
