"""Payments of the shop: the sale transactions of each order, refund calculation and refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crossdock.sandbox.shopify._errors import ShopError, to_decimal
from crossdock.sandbox.shopify._ids import gid
from crossdock.sandbox.shopify._money import Pricing, quantize

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._state import ShopState


class Payments:
    """Sales and refunds of a shop's orders. Refunds are checked whole before anything changes."""

    def __init__(self, state: ShopState) -> None:
        self.state = state
        self.transactions: dict[int, list[dict[str, Any]]] = {}

    def record_sales(self, order: dict[str, Any], spec: dict[str, Any]) -> None:
        """The sale transactions of a new order: gift card first, then the card."""
        total = Decimal(order["total_price"])
        gift = min(Decimal(str(spec.get("gift_card_payment", "0"))), total)
        parts = [("gift_card", gift), ("shopify_payments", total - gift)]
        sales = []
        for gateway, amount in parts:
            if amount <= 0:
                continue
            tx_id = self.state.ids.next()
            sales.append(
                {
                    "id": tx_id,
                    "admin_graphql_api_id": gid("OrderTransaction", tx_id),
                    "order_id": order["id"],
                    "kind": "sale",
                    "gateway": gateway,
                    "status": "success",
                    "amount": str(quantize(amount, order["currency"])),
                    "currency": order["currency"],
                    "parent_id": None,
                    "processed_at": order["processed_at"],
                    "created_at": order["created_at"],
                    "test": order["test"],
                }
            )
        self.transactions[order["id"]] = sales

    def transactions_of(self, order_id: int) -> list[dict[str, Any]]:
        """The order's transactions: its sales, then its refunds."""
        self.state.order(order_id)
        return self.transactions.get(order_id, [])

    def calculate(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /orders/{id}/refunds/calculate.json``: what a refund would be; nothing changes."""
        order = self.state.order(order_id)
        plan = self._plan_refund_lines(order, body.get("refund_line_items") or [])
        subtotal = sum((p["subtotal"] for p in plan), Decimal(0))
        tax = sum((p["tax"] for p in plan), Decimal(0))
        shipping = body.get("shipping") or {}
        shipping_total = sum((Decimal(s["price"]) for s in order["shipping_lines"]), Decimal(0))
        if shipping.get("full_refund"):
            shipping_amount = shipping_total
        else:
            shipping_amount = to_decimal(shipping.get("amount", "0"), "shipping.amount")
        amount = subtotal + shipping_amount + (0 if order["taxes_included"] else tax)
        amount = min(amount, self.net_paid(order_id))
        currency = order["currency"]
        suggestions = []
        # Refund to the card first, then to the gift card, as Shopify suggests.
        for sale in sorted(
            self.transactions.get(order_id, []), key=lambda t: t["gateway"] == "gift_card"
        ):
            if amount <= 0 or sale["kind"] != "sale":
                continue
            part = min(amount, Decimal(sale["amount"]))
            amount -= part
            suggestions.append(
                {
                    "order_id": order_id,
                    "kind": "suggested_refund",
                    "gateway": sale["gateway"],
                    "parent_id": sale["id"],
                    "amount": str(quantize(part, currency)),
                    "currency": currency,
                    "maximum_refundable": sale["amount"],
                }
            )
        pricing = Pricing(currency)
        return {
            "shipping": {
                "amount": pricing.text(shipping_amount),
                "tax": pricing.text(Decimal(0)),
                "maximum_refundable": pricing.text(shipping_total),
            },
            "refund_line_items": [
                {
                    "line_item_id": p["line"]["id"],
                    "quantity": p["quantity"],
                    "restock_type": p["restock_type"],
                    "location_id": p["location_id"],
                    "price": p["line"]["price"],
                    "subtotal": pricing.text(p["subtotal"]),
                    "total_tax": pricing.text(p["tax"]),
                    "discounted_price": p["line"]["price"],
                    "discounted_total_price": pricing.text(p["subtotal"]),
                }
                for p in plan
            ],
            "transactions": suggestions,
            "currency": currency,
        }

    def create(self, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /orders/{id}/refunds.json``: refund lines (with restock) and shipping.

        Everything is checked before anything changes: a refused refund leaves no trace.
        """
        order = self.state.order(order_id)
        plan = self._plan_refund_lines(order, body.get("refund_line_items") or [])
        subtotal_sum = sum((p["subtotal"] for p in plan), Decimal(0))
        tax_sum = sum((p["tax"] for p in plan), Decimal(0))
        shipping = body.get("shipping") or {}
        shipping_amount = Decimal(0)
        if shipping.get("full_refund"):
            shipping_amount = sum(
                (Decimal(s["price"]) for s in order["shipping_lines"]), Decimal(0)
            )
        elif "amount" in shipping:
            shipping_amount = to_decimal(shipping["amount"], "shipping.amount")
        # With taxes included, a line's subtotal already holds its tax.
        computed = subtotal_sum + shipping_amount + (0 if order["taxes_included"] else tax_sum)
        transactions = self._refund_transactions(order, body, computed)
        refund_lines = [self._apply_refund_line(order, p) for p in plan]
        pricing = Pricing(order["currency"])
        refund_id = self.state.ids.next()
        adjustments = []
        if shipping_amount:
            adjustments.append(
                {
                    "id": self.state.ids.next(),
                    "order_id": order_id,
                    "refund_id": refund_id,
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount": pricing.text(-shipping_amount),
                    "amount_set": pricing.money_set(-shipping_amount),
                    "tax_amount": pricing.text(Decimal(0)),
                    "tax_amount_set": pricing.money_set(Decimal(0)),
                }
            )
        refund = {
            "id": refund_id,
            "admin_graphql_api_id": gid("Refund", refund_id),
            "order_id": order_id,
            "created_at": self.state.stamp(),
            "processed_at": self.state.stamp(),
            "note": body.get("note"),
            "restock": any(rl["restock_type"] != "no_restock" for rl in refund_lines),
            "user_id": None,
            "duties": [],
            "total_duties_set": pricing.money_set(Decimal(0)),
            "order_adjustments": adjustments,
            "return": None,
            "refund_line_items": refund_lines,
            "transactions": transactions,
            "refund_shipping_lines": [],
        }
        order["refunds"].append(refund)
        self.transactions.setdefault(order_id, []).extend(transactions)
        self.apply_reduction(order, subtotal_sum, tax_sum, shipping_amount)
        return refund

    def net_paid(self, order_id: int) -> Decimal:
        """What the buyer has paid on an order and not had back: sales minus refunds."""
        total = Decimal(0)
        for tx in self.transactions.get(order_id, []):
            if tx["status"] == "success" and tx["kind"] in {"sale", "capture"}:
                total += Decimal(tx["amount"])
            elif tx["status"] == "success" and tx["kind"] == "refund":
                total -= Decimal(tx["amount"])
        return total

    def _plan_refund_lines(
        self, order: dict[str, Any], raw_lines: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        lines = {ln["id"]: ln for ln in order["line_items"]}
        asked: dict[int, int] = {}
        plan = []
        for raw in raw_lines:
            try:
                line = lines.get(int(raw.get("line_item_id", 0)))
                quantity = int(raw.get("quantity", 0))
            except (TypeError, ValueError) as exc:
                raise ShopError(422, {"errors": {"refund_line_items": ["is invalid"]}}) from exc
            if line is None:
                raise ShopError(422, {"errors": {"refund_line_items": ["line item not found"]}})
            asked[line["id"]] = asked.get(line["id"], 0) + quantity
            if quantity < 1 or asked[line["id"]] > line["current_quantity"]:
                raise ShopError(
                    422, {"errors": {"refund_line_items.quantity": ["cannot refund more items"]}}
                )
            restock_type = raw.get("restock_type", "no_restock")
            if restock_type not in {"no_restock", "cancel", "return", "legacy_restock"}:
                raise ShopError(422, {"errors": {"restock_type": ["is not included in the list"]}})
            location_id = raw.get("location_id")
            if restock_type in {"return", "cancel"} and line["variant_id"] is not None:
                location_id = int(location_id or next(iter(self.state.locations)))
                if location_id not in self.state.locations:
                    raise ShopError(422, {"errors": {"location_id": ["is invalid"]}})
            subtotal, tax = line_share(line, quantity, order["currency"])
            plan.append(
                {
                    "line": line,
                    "quantity": quantity,
                    "restock_type": restock_type,
                    "location_id": location_id,
                    "subtotal": subtotal,
                    "tax": tax,
                }
            )
        return plan

    def _apply_refund_line(self, order: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        line, quantity, restock_type = p["line"], p["quantity"], p["restock_type"]
        if restock_type in {"return", "cancel"} and line["variant_id"] is not None:
            item_id = self.state.variants[line["variant_id"]]["inventory_item_id"]
            current = self.state.quantity(item_id, p["location_id"])
            self.state.set_available(item_id, p["location_id"], current + quantity)
        if restock_type == "cancel":
            line["fulfillable_quantity"] = max(0, line["fulfillable_quantity"] - quantity)
        line["current_quantity"] -= quantity
        pricing = Pricing(order["currency"])
        return {
            "id": self.state.ids.next(),
            "line_item_id": line["id"],
            "line_item": dict(line),
            "location_id": p["location_id"],
            "quantity": quantity,
            "restock_type": restock_type,
            # Real refunds/create payloads carry these two as JSON numbers.
            "subtotal": float(p["subtotal"]),
            "subtotal_set": pricing.money_set(p["subtotal"]),
            "total_tax": float(p["tax"]),
            "total_tax_set": pricing.money_set(p["tax"]),
        }

    def _refund_transactions(
        self, order: dict[str, Any], body: dict[str, Any], computed: Decimal
    ) -> list[dict[str, Any]]:
        given = body.get("transactions")
        raw = given if given is not None else [{"amount": str(computed)}] if computed else []
        paid = self.net_paid(order["id"])
        out = []
        default_gateway = (order["payment_gateway_names"] or ["manual"])[-1]
        total = Decimal(0)
        for tx in raw:
            amount = quantize(
                to_decimal(tx.get("amount"), "transactions.amount"), order["currency"]
            )
            total += amount
            if amount < 0 or total > paid:
                raise ShopError(422, {"errors": {"base": [f"Refund amount exceeds {paid}"]}})
            tx_id = self.state.ids.next()
            out.append(
                {
                    "id": tx_id,
                    "admin_graphql_api_id": gid("OrderTransaction", tx_id),
                    "order_id": order["id"],
                    "kind": "refund",
                    "gateway": tx.get("gateway", default_gateway),
                    "status": "success",
                    "amount": str(amount),
                    "currency": order["currency"],
                    "parent_id": tx.get("parent_id") or self._sale_id(order["id"]),
                    "processed_at": self.state.stamp(),
                    "created_at": self.state.stamp(),
                    "test": order["test"],
                }
            )
        return out

    def _sale_id(self, order_id: int) -> int | None:
        sales = [t for t in self.transactions.get(order_id, []) if t["kind"] == "sale"]
        return sales[-1]["id"] if sales else None

    def apply_reduction(
        self, order: dict[str, Any], subtotal: Decimal, tax: Decimal, shipping: Decimal
    ) -> None:
        """Lower the order's ``current_*`` totals by the value taken off it (lines, their tax,
        shipping), and set the financial status from what is still paid.

        The ``current_*`` totals describe the order as it now stands (what it is worth), not
        the money moved: a refund of lines with no money back (an order edit's removal, a
        restock without refund) lowers them all the same.
        """
        pricing = Pricing(order["currency"])
        value = subtotal + shipping + (Decimal(0) if order["taxes_included"] else tax)
        fields = {
            "current_subtotal_price": Decimal(order["current_subtotal_price"]) - subtotal,
            "current_total_tax": Decimal(order["current_total_tax"]) - tax,
            "current_total_price": Decimal(order["current_total_price"]) - value,
        }
        for field, amount in fields.items():
            order[field] = pricing.text(amount)
            order[f"{field}_set"] = pricing.money_set(amount)
        self.settle_status(order)

    def settle_status(self, order: dict[str, Any]) -> None:
        """``financial_status`` and ``total_outstanding`` from the current total and payments."""
        pricing = Pricing(order["currency"])
        paid = self.net_paid(order["id"])
        sold = sum(
            (
                Decimal(t["amount"])
                for t in self.transactions.get(order["id"], [])
                if t["kind"] == "sale"
            ),
            Decimal(0),
        )
        current = Decimal(order["current_total_price"])
        outstanding = current - paid
        order["total_outstanding"] = pricing.text(outstanding)
        if "total_outstanding_set" in order:
            order["total_outstanding_set"] = pricing.money_set(outstanding)
        if order["financial_status"] in {"voided", "pending", "authorized"}:
            pass
        elif paid < sold:
            order["financial_status"] = "refunded" if paid <= 0 else "partially_refunded"
        elif outstanding > 0:
            order["financial_status"] = "partially_paid"
        self.state.touch(order)


def line_share(line: dict[str, Any], quantity: int, currency: str) -> tuple[Decimal, Decimal]:
    # The refundable subtotal and tax of `quantity` units: net of the line's discounts, pro rata.
    gross = Decimal(line["price"]) * line["quantity"]
    discount = sum((Decimal(a["amount"]) for a in line["discount_allocations"]), Decimal(0))
    tax = sum((Decimal(t["price"]) for t in line["tax_lines"]), Decimal(0))
    part = Decimal(quantity) / Decimal(line["quantity"])
    return quantize((gross - discount) * part, currency), quantize(tax * part, currency)
