"""Canonical payloads for the NetSuite tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossdock.backbone.store import Command
from crossdock.canonical.ids import new_id


def money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def customer(customer_id: str, name: str = "Acme Retail") -> dict[str, Any]:
    return {
        "id": customer_id,
        "kind": "business",
        "email": "buyer@acme.example",
        "account": {"name": name},
    }


def order(
    order_id: str, lines: list[tuple[str, int, str]], number: str = "#1001"
) -> dict[str, Any]:
    total = sum((q * Decimal(p) for _, q, p in lines), Decimal(0))
    return {
        "id": order_id,
        "number": number,
        "channel": "shopify",
        "currency": "USD",
        "lines": [
            {"line_id": str(i + 1), "sku": sku, "title": sku, "quantity": q, "unit_price": money(p)}
            for i, (sku, q, p) in enumerate(lines)
        ],
        "totals": {"total": money(str(total))},
        "status": "open",
        "placed_at": "2026-11-27T04:00:00Z",
    }


def shipment(shipment_id: str, order_id: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "id": shipment_id,
        "order": {"id": order_id},
        "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "status": "in_transit",
    }


def return_(return_id: str, order_id: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "id": return_id,
        "order": {"id": order_id},
        "lines": [
            {"line_id": str(i + 1), "sku": sku, "quantity": q} for i, (sku, q) in enumerate(lines)
        ],
        "status": "requested",
        "requested_at": "2026-11-28T10:00:00Z",
    }


def command(kind: str, payload: dict[str, Any], key: str | None = None) -> Command:
    return Command(
        idempotency_key=key or f"test:{new_id()}",
        destination="netsuite",
        kind=kind,
        payload=payload,
    )
