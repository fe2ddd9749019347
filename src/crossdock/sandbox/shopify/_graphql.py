"""The GraphQL Admin endpoint: real parsing and validation (graphql-core), cost throttling, and
the mutations the connector uses (inventorySetQuantities, fulfillmentCreate, variant prices,
refundCreate, tagsAdd, tagsRemove, orderUpdate) and order editing (see `_gql_orders` and
`_gql_order_update`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_directive_values,
    parse,
    validate,
)

from crossdock.sandbox.kit import LeakyBucket
from crossdock.sandbox.shopify._errors import ShopError
from crossdock.sandbox.shopify._gql_nodes import (
    Node,
    cursor,
    decode_cursor,
    item_node,
    level_node,
    location_node,
    matches,
    order_filter,
    order_node,
    product_node,
    utc,
    variant_node,
)
from crossdock.sandbox.shopify._gql_order_update import OrderUpdates
from crossdock.sandbox.shopify._gql_orders import OrderMutations
from crossdock.sandbox.shopify._gql_schema import schema_for, strict_version
from crossdock.sandbox.shopify._ids import gid, parse_gid

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._simulator import ShopifySimulator

MUTATION_COST = 10
REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
}


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    return next((o for o in ops if o.name is not None and o.name.value == name), None)


def _literal_int(field: FieldNode, arg: str, variables: dict[str, Any]) -> int:
    for node in field.arguments or ():
        if node.name.value != arg:
            continue
        value: Any = node.value
        if value.kind == "variable":
            return int(variables.get(value.name.value) or 1)
        if value.kind == "int_value":
            return int(value.value)
    return 1


def _selection_cost(selection: SelectionSetNode | None, variables: dict[str, Any]) -> int:
    # Shopify: 1 per object, a connection costs 2 plus `first` times its children; scalars free.
    if selection is None:
        return 0
    total = 0
    for node in selection.selections:
        if not isinstance(node, FieldNode):
            total += _selection_cost(getattr(node, "selection_set", None), variables)
            continue
        if node.selection_set is None:
            continue
        names = {a.name.value for a in node.arguments or ()}
        children = _selection_cost(node.selection_set, variables)
        if names & {"first", "last"}:
            size = _literal_int(node, "first" if "first" in names else "last", variables)
            total += 2 + size * max(children, 1)
        else:
            total += 1 + children
    return total


def query_cost(op: OperationDefinitionNode, variables: dict[str, Any]) -> int:
    """The requested cost of an operation."""
    if op.operation is OperationType.MUTATION:
        return MUTATION_COST * len(op.selection_set.selections)
    return max(1, _selection_cost(op.selection_set, variables))


class ShopifyGraphQL:
    """Executes GraphQL Admin requests against a simulator's shop."""

    def __init__(self, sim: ShopifySimulator) -> None:
        self.sim = sim
        self.buckets: dict[str, LeakyBucket] = {}
        self.idempotency: dict[str, tuple[str, Node]] = {}
        self.orders = OrderMutations(sim)
        self.order_updates = OrderUpdates(sim)

    def reset(self) -> None:
        """Forget buckets and idempotency keys."""
        self.buckets.clear()
        self.idempotency.clear()
        self.orders.reset()

    def _bucket(self, token: str) -> LeakyBucket:
        shop = self.sim.state.shop
        if token not in self.buckets:
            self.buckets[token] = LeakyBucket(
                float(shop.get("graphql_maximum_available", 2000)),
                float(shop.get("graphql_restore_rate", 100)),
            )
        return self.buckets[token]

    def run(self, version: str, token: str, request: dict[str, Any]) -> dict[str, Any]:
        """Execute one request body ``{query, variables, operationName}``; returns the response."""
        query = request.get("query")
        if not isinstance(query, str) or not query.strip():
            return {"errors": [{"message": "No query string was present"}]}
        variables = request.get("variables") or {}
        if not isinstance(variables, dict):
            return {"errors": [{"message": "Variables must be an object"}]}
        schema = schema_for(version)
        try:
            document = parse(query)
        except GraphQLError as exc:
            return {"errors": [exc.formatted]}
        errors = validate(schema, document)
        if errors:
            return {"errors": [e.formatted for e in errors]}
        op = _operation(document, request.get("operationName"))
        if op is None:
            return {"errors": [{"message": "An operation name is required"}]}
        cost = query_cost(op, variables)
        bucket = self._bucket(token)
        taken = bucket.take(cost, factor=self.sim.faults.throttle_factor)
        status = {
            "maximumAvailable": taken.capacity,
            "currentlyAvailable": int(taken.available),
            "restoreRate": taken.leak_per_s,
        }
        if not taken.allowed:
            return {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {
                    "cost": {
                        "requestedQueryCost": cost,
                        "actualQueryCost": None,
                        "throttleStatus": status,
                    }
                },
            }
        root = self._root(version, schema, op.operation)
        result = execute(
            schema,
            document,
            root_value=root,
            variable_values=variables,
            operation_name=request.get("operationName"),
        )
        assert isinstance(result, ExecutionResult), "resolvers are synchronous"
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        if result.data is not None or not result.errors:
            body["data"] = result.data
        body["extensions"] = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": cost,
                "throttleStatus": status,
            }
        }
        return body

    # -- roots -----------------------------------------------------------------------------

    def _root(self, version: str, schema: GraphQLSchema, kind: OperationType) -> Node:
        state = self.sim.state
        if kind is OperationType.MUTATION:
            return {
                "inventorySetQuantities": lambda info, **kw: self._set_quantities(
                    version, schema, info, kw["input"]
                ),
                "fulfillmentCreate": lambda info, **kw: self._fulfil(kw["fulfillment"]),
                "productVariantsBulkUpdate": lambda info, **kw: self._prices(
                    kw["productId"], kw["variants"]
                ),
                **self.orders.roots(version, schema),
                **self.order_updates.roots(),
            }

        def lookup(kind: str, make: Any) -> Any:
            return lambda info, **kw: _by_gid(kw["id"], kind, make, state)

        return {
            "shop": {
                "name": state.shop.get("name", "Shop"),
                "myshopifyDomain": state.shop.get("domain"),
                "currencyCode": state.currency,
            },
            "inventoryItem": lookup("InventoryItem", item_node),
            "inventoryLevel": lambda info, **kw: self._level_by_gid(kw["id"]),
            "location": lookup("Location", location_node),
            "productVariant": lookup("ProductVariant", variant_node),
            "product": lookup("Product", product_node),
            "order": lookup("Order", order_node),
            "orders": lambda info, **args: self._orders(**args),
        }

    def _level_by_gid(self, value: str) -> Node | None:
        location_id = parse_gid(value, "InventoryLevel")
        _, _, query = value.partition("?inventory_item_id=")
        if location_id is None or not query.isdigit():
            return None
        item_id = int(query)
        if (item_id, location_id) not in self.sim.state.levels:
            return None
        return level_node(self.sim.state, item_id, location_id)

    def _orders(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        query: str | None = None,
        sortKey: str = "ID",  # noqa: N803 - GraphQL name
        reverse: bool = False,
    ) -> Node:
        if (first is None) == (last is None):
            raise GraphQLError("you must provide one of first or last")
        size = first if first is not None else last
        if size is None or not 0 < size <= 250:
            raise GraphQLError("first/last must be between 1 and 250")
        state = self.sim.state
        conditions = order_filter(query)
        field = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at"}.get(sortKey)
        orders = [o for o in state.orders.values() if matches(o, conditions)]
        orders.sort(key=lambda o: (o[field], o["id"]) if field else (o["id"],), reverse=reverse)
        ids = [o["id"] for o in orders]
        start, end = 0, len(ids)
        if after is not None:
            start = ids.index(int(decode_cursor(after, "order"))) + 1
        if before is not None:
            end = ids.index(int(decode_cursor(before, "order")))
        window = ids[start:end]
        page = window[:size] if first is not None else window[-size:]
        nodes = [order_node(state, oid) for oid in page]
        edges = [
            {"cursor": cursor("order", str(oid)), "node": n}
            for oid, n in zip(page, nodes, strict=True)
        ]
        first_index = start + (0 if first is not None else len(window) - len(page))
        return {
            "nodes": nodes,
            "edges": edges,
            "pageInfo": {
                "hasNextPage": first_index + len(page) < len(ids),
                "hasPreviousPage": first_index > 0,
                "startCursor": edges[0]["cursor"] if edges else None,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }

    # -- inventorySetQuantities ------------------------------------------------------------

    def _set_quantities(
        self, version: str, schema: GraphQLSchema, info: Any, data: dict[str, Any]
    ) -> Node:
        directive = schema.get_directive("idempotent")
        assert directive is not None
        values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
        key = values["key"] if values else None
        strict = strict_version(version)
        if strict and key is None:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation from API 2026-04.",
                extensions={"code": "BAD_REQUEST"},
            )
        if strict:
            missing = [i for i, q in enumerate(data["quantities"]) if "changeFromQuantity" not in q]
            if missing:
                raise GraphQLError(
                    "changeFromQuantity is required on every quantity from API 2026-04 "
                    "(pass null to skip the compare).",
                    extensions={"code": "BAD_REQUEST"},
                )
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        if key is not None and key in self.idempotency:
            seen, payload = self.idempotency[key]
            if seen != fingerprint:
                return _user_errors(
                    [
                        (
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            ["input"],
                            "The same idempotency key was used with different parameters.",
                        )
                    ]
                )
            for q in data["quantities"]:
                self.sim.effects.attempt("inventory", _level_key(q))
                self.sim.effects.absorbed("inventory", _level_key(q))
            return payload
        payload = self._apply_quantities(data, strict)
        if key is not None:
            self.idempotency[key] = (fingerprint, payload)
        return payload

    def _check_quantities(
        self, data: dict[str, Any], strict: bool
    ) -> tuple[list[tuple[str, list[str], str]], list[tuple[int, int, int]]]:
        state = self.sim.state
        errors: list[tuple[str, list[str], str]] = []
        targets: list[tuple[int, int, int]] = []
        if data["name"] not in {"available", "on_hand"}:
            errors.append(("INVALID_NAME", ["input", "name"], "The quantity name is invalid."))
        if data["reason"] not in REASONS:
            errors.append(("INVALID_REASON", ["input", "reason"], "The reason is invalid."))
        ignore = bool(data.get("ignoreCompareQuantity", False))
        for i, q in enumerate(data["quantities"]):
            path = ["input", "quantities", str(i)]
            item_id = parse_gid(q["inventoryItemId"], "InventoryItem")
            location_id = parse_gid(q["locationId"], "Location")
            if item_id is None or item_id not in state.items:
                msg = "The specified inventory item could not be found."
                errors.append(("INVALID_INVENTORY_ITEM", [*path, "inventoryItemId"], msg))
                continue
            if location_id is None or location_id not in state.locations:
                msg = "The specified location could not be found."
                errors.append(("INVALID_LOCATION", [*path, "locationId"], msg))
                continue
            if "changeFromQuantity" in q:
                compare, field, code = q["changeFromQuantity"], "changeFromQuantity", "CHANGE_FROM"
            else:
                compare, field, code = q.get("compareQuantity"), "compareQuantity", "COMPARE"
            if not strict and compare is None and not ignore and "changeFromQuantity" not in q:
                msg = "The compareQuantity argument must be given to each quantity or ignored."
                errors.append(("COMPARE_QUANTITY_REQUIRED", [*path, "compareQuantity"], msg))
                continue
            current = state.quantity(item_id, location_id, data["name"])
            if compare is not None and compare != current:
                self.sim.effects.refused("inventory", f"{item_id}@{location_id}")
                msg = "The specified compare quantity is stale."
                errors.append((f"{code}_QUANTITY_STALE", [*path, field], msg))
                continue
            targets.append((item_id, location_id, int(q["quantity"])))
        return errors, targets

    def _apply_quantities(self, data: dict[str, Any], strict: bool) -> Node:
        state, effects = self.sim.state, self.sim.effects
        for q in data["quantities"]:
            effects.attempt("inventory", _level_key(q))
        errors, targets = self._check_quantities(data, strict)
        if errors:
            return _user_errors(errors)
        changes = []
        for item_id, location_id, quantity in targets:
            before_available = state.quantity(item_id, location_id, "available")
            if data["name"] == "on_hand":
                on_hand = state.quantity(item_id, location_id, "on_hand")
                state.set_available(item_id, location_id, before_available + quantity - on_hand)
            else:
                state.set_available(item_id, location_id, quantity)
            after_available = state.quantity(item_id, location_id, "available")
            delta = after_available - before_available
            effects.created("inventory", f"{item_id}@{location_id}", state=after_available)
            for name in ("available", "on_hand"):
                changes.append(
                    {
                        "name": name,
                        "delta": delta,
                        "quantityAfterChange": state.quantity(item_id, location_id, name),
                        "item": item_node(state, item_id),
                        "location": location_node(state, location_id),
                    }
                )
            self.sim.emit_level(item_id, location_id)
        group = {
            "id": gid("InventoryAdjustmentGroup", state.ids.next()),
            "createdAt": utc(state.stamp()),
            "reason": data["reason"],
            "referenceDocumentUri": data.get("referenceDocumentUri"),
            "changes": lambda info, **filters: _filter_changes(changes, filters),
        }
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    # -- fulfillmentCreate -----------------------------------------------------------------

    def _fulfil(self, data: dict[str, Any]) -> Node:
        state = self.sim.state
        groups: list[dict[str, Any]] = []
        for group in data["lineItemsByFulfillmentOrder"]:
            fo_id = parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder")
            lines = [
                {
                    "id": parse_gid(li["id"], "FulfillmentOrderLineItem") or 0,
                    "quantity": li["quantity"],
                }
                for li in group.get("fulfillmentOrderLineItems") or []
            ]
            groups.append(
                {"fulfillment_order_id": fo_id or 0, "fulfillment_order_line_items": lines}
            )
        tracking = data.get("trackingInfo") or {}
        numbers = tracking.get("numbers") or (
            [tracking["number"]] if tracking.get("number") else []
        )
        urls = tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else [])
        order_key = None
        fo = state.fulfillment_orders.get(groups[0]["fulfillment_order_id"]) if groups else None
        if fo is not None:
            order_key = str(fo["order_id"])
            self.sim.effects.attempt("fulfillment", order_key)
        try:
            fulfillment = state.create_fulfillment(
                {
                    "line_items_by_fulfillment_order": groups,
                    "tracking_info": {
                        "numbers": numbers,
                        "urls": urls,
                        "company": tracking.get("company"),
                    },
                }
            )
        except ShopError as exc:
            if order_key is not None:
                self.sim.effects.refused("fulfillment", order_key)
            return {"fulfillment": None, "userErrors": _shop_error_messages(exc)}
        self.sim.after_fulfillment(fulfillment)
        return {
            "fulfillment": {
                "id": fulfillment["admin_graphql_api_id"],
                "legacyResourceId": str(fulfillment["id"]),
                "name": fulfillment["name"],
                "status": "SUCCESS",
                "createdAt": utc(fulfillment["created_at"]),
                "trackingInfo": lambda info, first=None: [
                    {"company": fulfillment["tracking_company"], "number": n, "url": u}
                    for n, u in _pairs(
                        fulfillment["tracking_numbers"], fulfillment["tracking_urls"]
                    )
                ][: first or None],
            },
            "userErrors": [],
        }

    # -- productVariantsBulkUpdate ---------------------------------------------------------

    def _prices(self, product_gid: str, variants: list[dict[str, Any]]) -> Node:
        state = self.sim.state
        product_id = parse_gid(product_gid, "Product")
        if product_id is None or product_id not in state.products:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    {
                        "code": "PRODUCT_DOES_NOT_EXIST",
                        "field": ["productId"],
                        "message": "Product does not exist",
                    }
                ],
            }
        own = {v["id"] for v in state.products[product_id]["variants"]}
        errors, changed = [], []
        for i, raw in enumerate(variants):
            variant_id = parse_gid(raw.get("id") or "", "ProductVariant")
            if variant_id is None or variant_id not in own:
                errors.append(
                    {
                        "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
                        "field": ["variants", str(i), "id"],
                        "message": "Product variant does not exist",
                    }
                )
                continue
            changes = {"price": raw.get("price")}
            if "compareAtPrice" in raw:
                changes["compare_at_price"] = raw["compareAtPrice"]
            if raw.get("barcode") is not None:
                changes["barcode"] = raw["barcode"]
            self.sim.effects.attempt("price", str(variant_id))
            state.update_variant(variant_id, changes)
            self.sim.effects.created(
                "price", str(variant_id), state=state.variants[variant_id]["price"]
            )
            changed.append(variant_id)
        if errors:
            return {"product": None, "productVariants": None, "userErrors": errors}
        self.sim.emit_product(product_id)
        return {
            "product": product_node(state, product_id),
            "productVariants": [variant_node(state, v) for v in changed],
            "userErrors": [],
        }


def _by_gid(value: str, kind: str, make: Any, state: Any) -> Node | None:
    ident = parse_gid(value, kind)
    result: Node | None = make(state, ident) if ident is not None else None
    return result


def _level_key(q: dict[str, Any]) -> str:
    item = parse_gid(q["inventoryItemId"], "InventoryItem")
    location = parse_gid(q["locationId"], "Location")
    return f"{item}@{location}"


def _user_errors(errors: list[tuple[str, list[str], str]]) -> Node:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"code": c, "field": f, "message": m} for c, f, m in errors],
    }


def _filter_changes(changes: list[Node], filters: dict[str, Any]) -> list[Node]:
    names = filters.get("quantityNames")
    items = filters.get("inventoryItemIds")
    locations = filters.get("locationIds")
    return [
        c
        for c in changes
        if (names is None or c["name"] in names)
        and (items is None or (c["item"] or {}).get("id") in items)
        and (locations is None or (c["location"] or {}).get("id") in locations)
    ]


def _shop_error_messages(exc: ShopError) -> list[Node]:
    errors = exc.body.get("errors") if isinstance(exc.body, dict) else exc.body
    if isinstance(errors, list):
        return [{"field": ["fulfillment"], "message": str(m)} for m in errors]
    return [{"field": ["fulfillment"], "message": str(errors)}]


def _pairs(numbers: list[str], urls: list[str]) -> list[tuple[str, str | None]]:
    return [(n, urls[i] if i < len(urls) else None) for i, n in enumerate(numbers)]
