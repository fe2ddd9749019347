"""GraphQL order mutations: order editing (orderEditBegin, orderEditSetQuantity,
orderEditAddVariant, orderEditCommit) and ``refundCreate`` with its ``@idempotent`` key."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLSchema, get_directive_values

from crossdock.sandbox.shopify._edits import EditError, EditSession
from crossdock.sandbox.shopify._errors import ShopError
from crossdock.sandbox.shopify._gql_nodes import Node, _money_bag, order_node, utc
from crossdock.sandbox.shopify._gql_schema import strict_version
from crossdock.sandbox.shopify._ids import gid, parse_gid
from crossdock.sandbox.shopify._money import Pricing

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._simulator import ShopifySimulator

RESTOCK_TYPES = {
    "RETURN": "return",
    "CANCEL": "cancel",
    "LEGACY_RESTOCK": "legacy_restock",
    "NO_RESTOCK": "no_restock",
}


class OrderMutations:
    """Resolvers for the order-editing and refund mutations of one simulator."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim
        self.idempotency: dict[str, tuple[str, Node]] = {}

    def reset(self) -> None:
        """Forget idempotency keys."""
        self.idempotency.clear()

    def roots(self, version: str, schema: GraphQLSchema) -> dict[str, Any]:
        """The mutation root fields served here."""
        return {
            "orderEditBegin": lambda info, **kw: self._begin(kw["id"]),
            "orderEditSetQuantity": lambda info, **kw: self._set_quantity(**kw),
            "orderEditAddVariant": lambda info, **kw: self._add_variant(**kw),
            "orderEditCommit": lambda info, **kw: self._commit(**kw),
            "refundCreate": lambda info, **kw: self._refund(version, schema, info, kw["input"]),
        }

    # -- order editing ---------------------------------------------------------------------

    def _begin(self, order_gid: str) -> Node:
        order_id = parse_gid(order_gid, "Order")
        try:
            if order_id is None or order_id not in self.sim.state.orders:
                raise EditError(["id"], "The order does not exist.")
            session = self.sim.edits.begin(order_id)
        except EditError as exc:
            return {"calculatedOrder": None, "userErrors": [_error(exc)]}
        return {"calculatedOrder": self._calculated(session), "userErrors": []}

    def _session(self, value: str) -> EditSession:
        return self.sim.edits.session(parse_gid(value, "CalculatedOrder"))

    def _set_quantity(
        self,
        id: str,
        lineItemId: str,  # noqa: N803
        quantity: int,
        restock: bool | None = None,
    ) -> Node:
        try:
            session = self._session(id)
            line = self.sim.edits.set_quantity(
                session, parse_gid(lineItemId, "CalculatedLineItem"), quantity, bool(restock)
            )
        except EditError as exc:
            return {
                "calculatedOrder": None,
                "calculatedLineItem": None,
                "userErrors": [_error(exc)],
            }
        return {
            "calculatedOrder": self._calculated(session),
            "calculatedLineItem": self._line_node(session, line["id"]),
            "userErrors": [],
        }

    def _add_variant(
        self,
        id: str,
        variantId: str,  # noqa: N803
        quantity: int,
        locationId: str | None = None,  # noqa: N803
        allowDuplicates: bool | None = None,  # noqa: N803
    ) -> Node:
        try:
            session = self._session(id)
            staged = self.sim.edits.add_variant(
                session, parse_gid(variantId, "ProductVariant"), quantity
            )
        except EditError as exc:
            return {
                "calculatedOrder": None,
                "calculatedLineItem": None,
                "userErrors": [_error(exc)],
            }
        return {
            "calculatedOrder": self._calculated(session),
            "calculatedLineItem": self._line_node(session, staged["id"]),
            "userErrors": [],
        }

    def _commit(
        self,
        id: str,
        notifyCustomer: bool | None = None,  # noqa: N803
        staffNote: str | None = None,  # noqa: N803
    ) -> Node:
        try:
            session = self._session(id)
            order = self.sim.commit_edit(session, staff_note=staffNote)
        except EditError as exc:
            return {"order": None, "successMessages": None, "userErrors": [_error(exc)]}
        return {
            "order": order_node(self.sim.state, order["id"]),
            "successMessages": ["Order updated"],
            "userErrors": [],
        }

    def _calculated(self, session: EditSession) -> Node:
        preview = self.sim.edits.preview(session)
        order = preview["order"]
        pricing = Pricing(order["currency"])
        existing = [self._line_node(session, ln["id"]) for ln in order["line_items"]]
        added = [self._line_node(session, a["id"]) for a in session.added]
        return {
            "id": gid("CalculatedOrder", session.id),
            "originalOrder": order_node(self.sim.state, order["id"]),
            "lineItems": lambda info, first=None: {"nodes": existing[: first or None]},
            "addedLineItems": lambda info, first=None: {"nodes": added[: first or None]},
            "subtotalPriceSet": _money_bag(pricing.money_set(preview["subtotal"])),
            "totalPriceSet": _money_bag(pricing.money_set(preview["total"])),
            "totalTaxSet": _money_bag(pricing.money_set(preview["tax"])),
        }

    def _line_node(self, session: EditSession, line_id: int) -> Node:
        order = self.sim.state.order(session.order_id)
        currency = order["currency"]
        for line in order["line_items"]:
            if line["id"] == line_id:
                quantity = session.quantities.get(line_id, line["current_quantity"])
                fulfilled = line["current_quantity"] - line["fulfillable_quantity"]
                return {
                    "id": gid("CalculatedLineItem", line_id),
                    "quantity": quantity,
                    "editableQuantity": line["fulfillable_quantity"]
                    if line["requires_shipping"]
                    else line["current_quantity"],
                    "editableQuantityBeforeChanges": line["current_quantity"] - fulfilled,
                    "sku": line["sku"],
                    "title": line["title"],
                    "originalUnitPriceSet": _money_bag(
                        Pricing(currency).money_set(Decimal(line["price"]))
                    ),
                }
        staged = next(a for a in session.added if a["id"] == line_id)
        variant = self.sim.state.variants[staged["variant_id"]]
        product = self.sim.state.products[variant["product_id"]]
        return {
            "id": gid("CalculatedLineItem", line_id),
            "quantity": staged["quantity"],
            "editableQuantity": staged["quantity"],
            "editableQuantityBeforeChanges": 0,
            "sku": variant["sku"],
            "title": product["title"],
            "originalUnitPriceSet": _money_bag(
                Pricing(currency).money_set(Decimal(variant["price"]))
            ),
        }

    # -- refundCreate ----------------------------------------------------------------------

    def _refund(self, version: str, schema: GraphQLSchema, info: Any, data: dict[str, Any]) -> Node:
        directive = schema.get_directive("idempotent")
        assert directive is not None
        values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
        key = values["key"] if values else None
        if strict_version(version) and key is None:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation from API 2026-04.",
                extensions={"code": "BAD_REQUEST"},
            )
        order_id = parse_gid(data["orderId"], "Order")
        effect_key = str(order_id)
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        scoped = f"refundCreate:{key}"
        if key is not None and scoped in self.idempotency:
            seen, replayed = self.idempotency[scoped]
            self.sim.effects.attempt("refund", effect_key)
            if seen != fingerprint:
                self.sim.effects.refused("refund", effect_key)
                raise GraphQLError(
                    "The same idempotency key was used with different parameters.",
                    extensions={"code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"},
                )
            self.sim.effects.absorbed("refund", effect_key)
            return replayed
        if order_id is None or order_id not in self.sim.state.orders:
            return {
                "refund": None,
                "order": None,
                "userErrors": [{"field": ["orderId"], "message": "Order does not exist"}],
            }
        try:
            made = self.sim.refund(order_id, _rest_body(data))
        except ShopError as exc:
            return {"refund": None, "order": None, "userErrors": _messages(exc)}
        order = self.sim.state.order(order_id)
        total = sum((Decimal(t["amount"]) for t in made["transactions"]), Decimal(0))
        payload: Node = {
            "refund": {
                "id": made["admin_graphql_api_id"],
                "legacyResourceId": str(made["id"]),
                "note": made["note"],
                "createdAt": utc(made["created_at"]),
                "totalRefundedSet": _money_bag(Pricing(order["currency"]).money_set(total)),
            },
            "order": order_node(self.sim.state, order_id),
            "userErrors": [],
        }
        if key is not None:
            self.idempotency[scoped] = (fingerprint, payload)
        return payload


def _rest_body(data: dict[str, Any]) -> dict[str, Any]:
    # The GraphQL RefundInput, as the REST refund body the shop's payments understand.
    body: dict[str, Any] = {"note": data.get("note"), "notify": bool(data.get("notify"))}
    body["refund_line_items"] = [
        {
            "line_item_id": parse_gid(li["lineItemId"], "LineItem") or 0,
            "quantity": li["quantity"],
            "restock_type": RESTOCK_TYPES.get(li.get("restockType") or "NO_RESTOCK", "no_restock"),
            "location_id": parse_gid(li["locationId"], "Location")
            if li.get("locationId")
            else None,
        }
        for li in data.get("refundLineItems") or []
    ]
    shipping = data.get("shipping")
    if shipping:
        if shipping.get("fullRefund"):
            body["shipping"] = {"full_refund": True}
        elif shipping.get("amount") is not None:
            body["shipping"] = {"amount": str(shipping["amount"])}
    if data.get("transactions") is not None:
        body["transactions"] = [
            {
                "kind": "refund",
                "gateway": t["gateway"],
                "amount": str(t["amount"]),
                "parent_id": parse_gid(t["parentId"], "OrderTransaction")
                if t.get("parentId")
                else None,
            }
            for t in data["transactions"]
        ]
    return body


def _error(exc: EditError) -> Node:
    return {"field": exc.field_path, "message": exc.message}


def _messages(exc: ShopError) -> list[Node]:
    errors = exc.body.get("errors") if isinstance(exc.body, dict) else exc.body
    if isinstance(errors, dict):
        return [
            {
                "field": [str(k)],
                "message": "; ".join(map(str, v)) if isinstance(v, list) else str(v),
            }
            for k, v in errors.items()
        ]
    if isinstance(errors, list):
        return [{"field": None, "message": str(m)} for m in errors]
    return [{"field": None, "message": str(errors)}]
