"""Order editing, as the GraphQL Admin API stages and commits it.

``orderEditBegin`` opens a session on an order (a ``CalculatedOrder``); ``orderEditSetQuantity``
and ``orderEditAddVariant`` stage changes; ``orderEditCommit`` applies them all at once. Only
unfulfilled units can be edited. After a commit, as on Shopify:

- an edited line keeps its original ``quantity``; ``current_quantity`` and
  ``fulfillable_quantity`` drop by the units taken off, and its fulfilment-order line with them;
- the units taken off are recorded in the order's ``refunds`` as a refund with restock type
  ``cancel`` and no transaction (the money owed back is a separate refund), whose line
  ``subtotal``/``total_tax`` say exactly what value left the order;
- an added variant is a new line item (quantity = current quantity), taxed at the order's rate;
- ``current_subtotal_price``, ``current_total_tax`` and ``current_total_price`` (with their
  ``*_set`` twins) follow; the original totals do not change; ``updated_at`` is bumped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crossdock.sandbox.shopify._errors import ShopError
from crossdock.sandbox.shopify._ids import gid
from crossdock.sandbox.shopify._money import Pricing, quantize
from crossdock.sandbox.shopify._refunds import line_share

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._state import ShopState


class EditError(ShopError):
    """A staged change or commit the shop refuses (a GraphQL user error)."""

    def __init__(self, field_path: list[str], message: str) -> None:
        super().__init__(422, {"errors": [message]})
        self.field_path = field_path
        self.message = message


@dataclass
class EditSession:
    """One open ``CalculatedOrder``: the order and the changes staged on it."""

    id: int
    order_id: int
    quantities: dict[int, int] = field(default_factory=dict)
    restock: dict[int, bool] = field(default_factory=dict)
    added: list[dict[str, Any]] = field(default_factory=list)
    committed: bool = False


class OrderEdits:
    """The edit sessions of a shop."""

    def __init__(self, state: ShopState) -> None:
        self.state = state
        self.sessions: dict[int, EditSession] = {}

    def begin(self, order_id: int) -> EditSession:
        """``orderEditBegin``: open a session (a cancelled order cannot be edited)."""
        order = self.state.order(order_id)
        if order["cancelled_at"] is not None:
            raise EditError(["id"], "The order cannot be edited because it was cancelled.")
        session = EditSession(self.state.ids.next(), order_id)
        self.sessions[session.id] = session
        return session

    def session(self, session_id: int | None) -> EditSession:
        """An open session, or the user error Shopify gives for an unknown one."""
        session = self.sessions.get(session_id or 0)
        if session is None or session.committed:
            raise EditError(["id"], "The calculated order does not exist.")
        return session

    def set_quantity(
        self, session: EditSession, line_id: int | None, quantity: int, restock: bool
    ) -> dict[str, Any]:
        """``orderEditSetQuantity``: stage a new quantity for an existing line (0 removes it)."""
        order = self.state.order(session.order_id)
        lines: dict[int, dict[str, Any]] = {ln["id"]: ln for ln in order["line_items"]}
        added = {a["id"]: a for a in session.added}
        if line_id in added:
            if quantity < 0:
                raise EditError(["quantity"], "Quantity must be greater than or equal to 0.")
            staged: dict[str, Any] = added[line_id]
            staged["quantity"] = quantity
            session.added = [a for a in session.added if a["quantity"] > 0]
            return staged
        line = lines.get(line_id or 0)
        if line is None:
            raise EditError(["lineItemId"], "The line item does not exist.")
        fulfilled = line["current_quantity"] - line["fulfillable_quantity"]
        if line["requires_shipping"] and quantity < fulfilled:
            raise EditError(
                ["quantity"], "Cannot reduce the quantity below the number of fulfilled items."
            )
        if quantity < 0 or quantity > line["current_quantity"]:
            raise EditError(
                ["quantity"], f"Quantity must be between 0 and {line['current_quantity']}."
            )
        session.quantities[line["id"]] = quantity
        session.restock[line["id"]] = restock
        return line

    def add_variant(self, session: EditSession, variant_id: int | None, quantity: int) -> Any:
        """``orderEditAddVariant``: stage a new line for a variant."""
        variant = self.state.variants.get(variant_id or 0)
        if variant is None:
            raise EditError(["variantId"], "The variant does not exist.")
        if quantity < 1:
            raise EditError(["quantity"], "Quantity must be greater than 0.")
        staged = {"id": self.state.ids.next(), "variant_id": variant["id"], "quantity": quantity}
        session.added.append(staged)
        return staged

    def preview(self, session: EditSession) -> dict[str, Any]:
        """What the order would look like: lines (with staged quantities) and totals."""
        order = self.state.order(session.order_id)
        subtotal, tax = self._removed_value(order, session)
        added_subtotal, added_tax = Decimal(0), Decimal(0)
        for staged in session.added:
            price = Decimal(self.state.variants[staged["variant_id"]]["price"])
            gross = price * staged["quantity"]
            added_subtotal += gross
            added_tax += _tax(gross, order, self.state.variants[staged["variant_id"]])
        included = order["taxes_included"]
        current_subtotal = Decimal(order["current_subtotal_price"]) - subtotal + added_subtotal
        current_tax = Decimal(order["current_total_tax"]) - tax + added_tax
        current_total = (
            Decimal(order["current_total_price"])
            - subtotal
            + added_subtotal
            - (Decimal(0) if included else tax - added_tax)
        )
        return {
            "order": order,
            "subtotal": current_subtotal,
            "tax": current_tax,
            "total": current_total,
        }

    def commit(self, session: EditSession, staff_note: str | None) -> dict[str, Any]:
        """``orderEditCommit``: apply every staged change; returns the order and what changed.

        Raises:
            EditError: the session is unknown, or nothing was staged.
        """
        order = self.state.order(session.order_id)
        removed = {
            line_id: q
            for line_id, q in session.quantities.items()
            if q < self._line(order, line_id)["current_quantity"]
        }
        if not removed and not session.added:
            raise EditError(["id"], "The order edit has no changes to commit.")
        additions = [self._add_line(order, staged) for staged in session.added]
        removals = self._remove_units(order, session, removed)
        added_subtotal = sum(
            (Decimal(ln["price"]) * ln["quantity"] for ln in additions), Decimal(0)
        )
        added_tax = sum(
            (Decimal(t["price"]) for ln in additions for t in ln["tax_lines"]), Decimal(0)
        )
        pricing = Pricing(order["currency"], order["presentment_currency"], _rate(order))
        included = order["taxes_included"]
        fields = {
            "current_subtotal_price": Decimal(order["current_subtotal_price"]) + added_subtotal,
            "current_total_tax": Decimal(order["current_total_tax"]) + added_tax,
            "current_total_price": Decimal(order["current_total_price"])
            + added_subtotal
            + (Decimal(0) if included else added_tax),
        }
        for name, amount in fields.items():
            order[name] = pricing.text(amount)
            order[f"{name}_set"] = pricing.money_set(amount)
        removal = self._removal_refund(order, removals, staff_note)
        subtotal = sum(
            (Decimal(rl["subtotal_set"]["shop_money"]["amount"]) for rl in removal), Decimal(0)
        )
        tax = sum(
            (Decimal(rl["total_tax_set"]["shop_money"]["amount"]) for rl in removal), Decimal(0)
        )
        self.state.payments.apply_reduction(order, subtotal, tax, Decimal(0))
        session.committed = True
        return {
            "order": order,
            "additions": [{"id": ln["id"], "delta": ln["quantity"]} for ln in additions],
            "removals": [{"id": rl["line_item_id"], "delta": rl["quantity"]} for rl in removal],
        }

    # -- parts -----------------------------------------------------------------------------

    @staticmethod
    def _line(order: dict[str, Any], line_id: int) -> dict[str, Any]:
        return next(ln for ln in order["line_items"] if ln["id"] == line_id)

    def _removed_value(
        self, order: dict[str, Any], session: EditSession
    ) -> tuple[Decimal, Decimal]:
        subtotal, tax = Decimal(0), Decimal(0)
        for line_id, quantity in session.quantities.items():
            line = self._line(order, line_id)
            units = line["current_quantity"] - quantity
            if units > 0:
                s, t = line_share(line, units, order["currency"])
                subtotal, tax = subtotal + s, tax + t
        return subtotal, tax

    def _remove_units(
        self, order: dict[str, Any], session: EditSession, removed: dict[int, int]
    ) -> list[tuple[dict[str, Any], int, bool]]:
        location_id = next(iter(self.state.locations))
        out = []
        for line_id, quantity in removed.items():
            line = self._line(order, line_id)
            units = line["current_quantity"] - quantity
            restock = session.restock.get(line_id, True)
            out.append((line, units, restock))
        for line, units, restock in out:
            for fo in self.state.fulfillment_orders.values():
                if fo["order_id"] != order["id"]:
                    continue
                for fo_line in fo["line_items"]:
                    if fo_line["line_item_id"] == line["id"]:
                        fo_line["quantity"] -= units
                        fo_line["fulfillable_quantity"] -= units
                if all(ln["fulfillable_quantity"] == 0 for ln in fo["line_items"]):
                    fo["status"] = "closed"
                fo["updated_at"] = self.state.stamp()
            if line["requires_shipping"]:
                line["fulfillable_quantity"] -= units
            if restock and line["variant_id"] is not None:
                item_id = self.state.variants[line["variant_id"]]["inventory_item_id"]
                current = self.state.quantity(item_id, location_id)
                self.state.set_available(item_id, location_id, current + units)
        return out

    def _removal_refund(
        self,
        order: dict[str, Any],
        removals: list[tuple[dict[str, Any], int, bool]],
        staff_note: str | None,
    ) -> list[dict[str, Any]]:
        if not removals:
            return []
        pricing = Pricing(order["currency"])
        location_id = next(iter(self.state.locations))
        refund_lines = []
        for line, units, restock in removals:
            subtotal, tax = line_share(line, units, order["currency"])
            line["current_quantity"] -= units
            refund_lines.append(
                {
                    "id": self.state.ids.next(),
                    "line_item_id": line["id"],
                    "line_item": dict(line),
                    "location_id": location_id if restock and line["variant_id"] else None,
                    "quantity": units,
                    "restock_type": "cancel" if restock else "no_restock",
                    "subtotal": float(subtotal),
                    "subtotal_set": pricing.money_set(subtotal),
                    "total_tax": float(tax),
                    "total_tax_set": pricing.money_set(tax),
                }
            )
        refund_id = self.state.ids.next()
        order["refunds"].append(
            {
                "id": refund_id,
                "admin_graphql_api_id": gid("Refund", refund_id),
                "order_id": order["id"],
                "created_at": self.state.stamp(),
                "processed_at": self.state.stamp(),
                "note": staff_note,
                "restock": any(rl["restock_type"] == "cancel" for rl in refund_lines),
                "user_id": None,
                "duties": [],
                "total_duties_set": pricing.money_set(Decimal(0)),
                "order_adjustments": [],
                "return": None,
                "refund_line_items": refund_lines,
                "transactions": [],
                "refund_shipping_lines": [],
            }
        )
        return refund_lines

    def _add_line(self, order: dict[str, Any], staged: dict[str, Any]) -> dict[str, Any]:
        variant = self.state.variants[staged["variant_id"]]
        product = self.state.products[variant["product_id"]]
        pricing = Pricing(order["currency"], order["presentment_currency"], _rate(order))
        quantity = int(staged["quantity"])
        price = Decimal(variant["price"])
        tax = _tax(price * quantity, order, variant)
        rate, title = _order_rate(order)
        variant_title = variant["title"] if variant["title"] != "Default Title" else None
        gift = bool(variant["gift_card"])
        requires_shipping = bool(variant.get("requires_shipping", True)) and not gift
        line = {
            "id": staged["id"],
            "admin_graphql_api_id": gid("LineItem", staged["id"]),
            "attributed_staffs": [],
            "current_quantity": quantity,
            "fulfillable_quantity": quantity if requires_shipping else 0,
            "fulfillment_service": "manual",
            "fulfillment_status": None,
            "gift_card": gift,
            "grams": variant.get("grams", 0),
            "name": product["title"] + (f" - {variant_title}" if variant_title else ""),
            "price": pricing.text(price),
            "price_set": pricing.money_set(price),
            "product_exists": True,
            "product_id": product["id"],
            "properties": [],
            "quantity": quantity,
            "requires_shipping": requires_shipping,
            "sku": variant["sku"],
            "taxable": bool(variant.get("taxable", True)) and not gift,
            "title": product["title"],
            "total_discount": pricing.text(Decimal(0)),
            "total_discount_set": pricing.money_set(Decimal(0)),
            "variant_id": variant["id"],
            "variant_inventory_management": "shopify",
            "variant_title": variant_title,
            "vendor": product["vendor"],
            "tax_lines": (
                [
                    {
                        "title": title,
                        "rate": float(rate),
                        "price": pricing.text(tax),
                        "price_set": pricing.money_set(tax),
                        "channel_liable": False,
                    }
                ]
                if rate and not gift and variant.get("taxable", True)
                else []
            ),
            "duties": [],
            "discount_allocations": [],
        }
        order["line_items"].append(line)
        location_id = next(iter(self.state.locations))
        item_id = variant["inventory_item_id"]
        self.state.set_available(
            item_id, location_id, self.state.quantity(item_id, location_id) - quantity
        )
        if requires_shipping:
            fo = next(
                (
                    f
                    for f in self.state.fulfillment_orders.values()
                    if f["order_id"] == order["id"] and f["status"] in {"open", "in_progress"}
                ),
                None,
            )
            if fo is not None:
                fo["line_items"].append(
                    {
                        "id": self.state.ids.next(),
                        "shop_id": fo["shop_id"],
                        "fulfillment_order_id": fo["id"],
                        "quantity": quantity,
                        "line_item_id": line["id"],
                        "inventory_item_id": item_id,
                        "fulfillable_quantity": quantity,
                        "variant_id": variant["id"],
                    }
                )
        return line


def _order_rate(order: dict[str, Any]) -> tuple[Decimal, str]:
    for line in order["line_items"]:
        for tax_line in line["tax_lines"]:
            return Decimal(str(tax_line["rate"])), str(tax_line["title"])
    for tax_line in order.get("tax_lines") or []:
        return Decimal(str(tax_line["rate"])), str(tax_line["title"])
    return Decimal(0), "Tax"


def _tax(gross: Decimal, order: dict[str, Any], variant: dict[str, Any]) -> Decimal:
    rate, _ = _order_rate(order)
    if not rate or variant["gift_card"] or not variant.get("taxable", True):
        return Decimal(0)
    if order["taxes_included"]:
        return quantize(gross - gross / (1 + rate), order["currency"])
    return quantize(gross * rate, order["currency"])


def _rate(order: dict[str, Any]) -> Decimal | None:
    shop = order["total_price_set"]["shop_money"]["amount"]
    presentment = order["total_price_set"]["presentment_money"]["amount"]
    if Decimal(shop) == 0:
        return None
    # The order's exchange rate, as its own money sets show it.
    return Decimal(presentment) / Decimal(shop)
