"""``order.refund`` through GraphQL refundCreate with ``@idempotent``: a lost answer is resent
and absorbed, never doubled; older pinned versions keep REST ``refunds.json``."""

from __future__ import annotations

from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import RetryLaterError

from .conftest import Shop


def refund_command(order: dict[str, Any], key: str, **extra: Any) -> Command:
    line = order["line_items"][0]
    payload = {
        "order_id": order["id"],
        "note": "Colis abîmé",
        "refund_line_items": [
            {"line_item_id": line["id"], "quantity": 1, "restock_type": "cancel"}
        ],
        **extra,
    }
    return Command(idempotency_key=key, destination="shopify", kind="order.refund", payload=payload)


async def test_a_refund_retried_after_a_lost_answer_is_made_once(shop: Shop) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    [sale] = shop.sim.state.payments.transactions_of(order["id"])
    transactions = [
        {
            "parent_id": sale["id"],
            "amount": "14.90",
            "kind": "refund",
            "gateway": "shopify_payments",
        }
    ]
    command = refund_command(order, "ref-lost-1", transactions=transactions)
    connector = shop.connector(request_timeout=2.0)
    await shop.faults(error_rate=1.0, error_status=503, fault_phase="after", seed=5)
    with pytest.raises(RetryLaterError):  # the refund was made, the answer lost
        await connector.perform(command)
    await shop.clear_faults()
    # A worker that does not know the first attempt was ambiguous sends it again: same key.
    resent = await connector.perform(command)
    settled = await connector.perform(command, attempt=2)  # a later retry settles by lookup

    refunds = shop.sim.state.order(order["id"])["refunds"]
    assert len(refunds) == 1
    assert resent == {"order_id": order["id"], "refund_id": refunds[0]["id"], "already": False}
    assert settled == resent | {"already": True}
    effects = await shop.effects("refund", str(order["id"]))
    assert (effects["created"], effects["duplicates_absorbed"]) == (1, 1)
    assert effects["attempts"] == 2


async def test_a_resend_through_graphql_is_absorbed_by_the_key(shop: Shop) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    command = refund_command(order, "ref-resend-1")
    connector = shop.connector()
    first = await connector.refund_order(command)
    again = await connector.refund_order(command)  # the same call sent twice: one refund
    assert again == first
    assert len(shop.sim.state.order(order["id"])["refunds"]) == 1
    effects = await shop.effects("refund", str(order["id"]))
    assert (effects["created"], effects["duplicates_absorbed"]) == (1, 1)


async def test_an_older_pinned_version_refunds_through_rest(shop: Shop) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 2}]})
    connector = shop.connector(api_version="2025-10")
    command = refund_command(order, "ref-rest-1")
    made = await connector.perform(command)
    again = await connector.perform(command, attempt=2)
    assert again == made | {"already": True}
    [refund] = shop.sim.state.order(order["id"])["refunds"]
    assert refund["note"] == "Colis abîmé [crossdock:ref-rest-1]"
    paths = [r.path for r in shop.sim.requests.recent(limit=100)]
    assert any(p.endswith(f"/orders/{order['id']}/refunds.json") for p in paths)
    assert not any(p.endswith("/graphql.json") for p in paths)
