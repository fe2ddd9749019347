"""GraphQL order attribute mutations: ``tagsAdd``, ``tagsRemove`` and ``orderUpdate``.

Each change goes through `ShopifySimulator.update_order`, as the REST ``PUT /orders/{id}.json``
does, so that it is recorded as an ``order_update`` effect and followed by ``orders/updated``.
A ``tagsAdd`` of tags the order already has, or a ``tagsRemove`` of tags it lacks, changes
nothing and sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossdock.sandbox.shopify._errors import ShopError
from crossdock.sandbox.shopify._gql_nodes import Node, order_node
from crossdock.sandbox.shopify._ids import parse_gid
from crossdock.sandbox.shopify._state import split_tags

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._simulator import ShopifySimulator

_NO_ORDER = "Order does not exist"
# OrderInput field -> REST order field.
_INPUT_FIELDS = {"email": "email", "note": "note", "phone": "phone", "tags": "tags"}


class OrderUpdates:
    """Resolvers for the order attribute mutations of one simulator."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim

    def roots(self) -> dict[str, Any]:
        """The mutation root fields served here."""
        return {
            "tagsAdd": lambda info, **kw: self._tags(kw["id"], kw["tags"], add=True),
            "tagsRemove": lambda info, **kw: self._tags(kw["id"], kw["tags"], add=False),
            "orderUpdate": lambda info, **kw: self._update(kw["input"]),
        }

    def _order_id(self, value: str) -> int | None:
        order_id = parse_gid(value, "Order")
        return order_id if order_id in self.sim.state.orders else None

    def _tags(self, value: str, tags: list[str], *, add: bool) -> Node:
        order_id = self._order_id(value)
        if order_id is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": _NO_ORDER}]}
        given = split_tags(tags)
        if not given:
            return {"node": None, "userErrors": [{"field": ["tags"], "message": "Tags missing"}]}
        have = split_tags(self.sim.state.order(order_id)["tags"])
        if add:
            wanted = have + [t for t in given if t not in have]
        else:
            wanted = [t for t in have if t not in given]
        if wanted != have:
            self.sim.update_order(order_id, {"tags": wanted})
        return {"node": order_node(self.sim.state, order_id), "userErrors": []}

    def _update(self, data: dict[str, Any]) -> Node:
        order_id = self._order_id(data["id"])
        if order_id is None:
            return {"order": None, "userErrors": [{"field": ["id"], "message": _NO_ORDER}]}
        changes = {rest: data[name] for name, rest in _INPUT_FIELDS.items() if name in data}
        try:
            self.sim.update_order(order_id, changes)
        except ShopError as exc:
            return {"order": None, "userErrors": [{"field": None, "message": str(exc.body)}]}
        return {"order": order_node(self.sim.state, order_id), "userErrors": []}
