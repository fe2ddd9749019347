"""The Admin REST endpoints (legacy since 2024-10, still what many integrations call)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.kit import json_response
from crossdock.sandbox.shopify._errors import ShopError

if TYPE_CHECKING:
    from crossdock.sandbox.shopify._simulator import ShopifySimulator

PREFIX = "/admin/api/{version}"
MAX_LIMIT = 250


def _error(exc: ShopError) -> Response:
    return json_response(exc.body, exc.status)


async def _body(request: Request, root: str | None) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}", parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ShopError(400, {"errors": "Bad Request: the body is not valid JSON"}) from exc
    if root is None:
        if not isinstance(data, dict):
            raise ShopError(400, {"errors": "Bad Request"})
        return data
    if not isinstance(data, dict) or not isinstance(data.get(root), dict):
        raise ShopError(400, {"errors": {root: "Required parameter missing or invalid"}})
    inner: dict[str, Any] = data[root]
    return inner


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        # A "+" left unencoded in a query string arrives as a space.
        return datetime.fromisoformat(value.replace(" ", "+").replace("Z", "+00:00"))
    except ValueError as exc:
        raise ShopError(400, {"errors": {name: "is not a valid date"}}) from exc


def _limit(value: str | None) -> int:
    try:
        limit = int(value) if value is not None else 50
    except ValueError as exc:
        raise ShopError(400, {"errors": {"limit": "is invalid"}}) from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise ShopError(400, {"errors": {"limit": f"must be between 1 and {MAX_LIMIT}"}})
    return limit


_FILTERS = (
    "status",
    "updated_at_min",
    "updated_at_max",
    "created_at_min",
    "created_at_max",
    "financial_status",
    "fulfillment_status",
    "since_id",
    "ids",
    "order",
)


def _page_info(filters: dict[str, str], last_id: int, direction: str) -> str:
    blob = json.dumps({"f": filters, "id": last_id, "d": direction}, separators=(",", ":"))
    return base64.urlsafe_b64encode(blob.encode()).decode().rstrip("=")


def _read_page_info(token: str) -> tuple[dict[str, str], int, str]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        return dict(data["f"]), int(data["id"]), str(data["d"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ShopError(400, {"errors": {"page_info": "Invalid value."}}) from exc


def _order_matches(order: dict[str, Any], f: dict[str, str]) -> bool:
    status = f.get("status", "open")
    if status == "open" and (order["closed_at"] or order["cancelled_at"]):
        return False
    if status == "closed" and not order["closed_at"]:
        return False
    if status == "cancelled" and not order["cancelled_at"]:
        return False
    for field, bound in (("updated_at", "updated_at"), ("created_at", "created_at")):
        moment = datetime.fromisoformat(order[field])
        low, high = _time(f.get(f"{bound}_min"), bound), _time(f.get(f"{bound}_max"), bound)
        if (low and moment < low) or (high and moment > high):
            return False
    if f.get("financial_status") not in (None, "any", order["financial_status"]):
        return False
    fulfilment = order["fulfillment_status"] or "unfulfilled"
    if f.get("fulfillment_status") not in (None, "any", fulfilment):
        return False
    if "since_id" in f and order["id"] <= int(f["since_id"]):
        return False
    return not ("ids" in f and str(order["id"]) not in f["ids"].split(","))


def _sorted_orders(sim: ShopifySimulator, f: dict[str, str]) -> list[dict[str, Any]]:
    field, _, direction = f.get("order", "id asc").partition(" ")
    if field not in {"id", "updated_at", "created_at", "processed_at"}:
        raise ShopError(400, {"errors": {"order": "is invalid"}})
    orders = [o for o in sim.state.orders.values() if _order_matches(o, f)]
    orders.sort(key=lambda o: (o[field], o["id"]), reverse=direction.lower() == "desc")
    return orders


def _fields(items: list[dict[str, Any]], fields: str | None) -> list[dict[str, Any]]:
    if not fields:
        return items
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    return [{k: item[k] for k in wanted if k in item} for item in items]


def _list_orders(request: Request, sim: ShopifySimulator) -> Response:
    q = request.query_params
    limit = _limit(q.get("limit"))
    if "page_info" in q:
        extra = [k for k in q if k not in {"page_info", "limit", "fields"}]
        if extra:
            raise ShopError(400, {"errors": {"page_info": "page_info cannot be used with filters"}})
        filters, anchor, direction = _read_page_info(q["page_info"])
    else:
        filters = {k: q[k] for k in _FILTERS if k in q}
        anchor, direction = 0, "start"
    orders = _sorted_orders(sim, filters)
    ids = [o["id"] for o in orders]
    if direction == "next":
        start = ids.index(anchor) + 1 if anchor in ids else len(ids)
    elif direction == "previous":
        end = ids.index(anchor) if anchor in ids else 0
        start = max(0, end - limit)
    else:
        start = 0
    page = orders[start : start + limit]
    links = []
    base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
    if page and start > 0:
        token = _page_info(filters, page[0]["id"], "previous")
        links.append(f'<{base}?limit={limit}&page_info={token}>; rel="previous"')
    if page and start + limit < len(orders):
        token = _page_info(filters, page[-1]["id"], "next")
        links.append(f'<{base}?limit={limit}&page_info={token}>; rel="next"')
    headers = {"Link": ", ".join(links)} if links else {}
    return json_response({"orders": _fields(page, q.get("fields"))}, 200, headers)


def register_rest(app: FastAPI, sim: ShopifySimulator) -> None:
    """Add the REST and GraphQL routes of ``sim`` to ``app``."""
    # Handlers read `sim.state` on every call: a reset replaces the state object.
    router = APIRouter(prefix=PREFIX, dependencies=[Depends(sim.guard)])

    @router.get("/shop.json")
    async def shop() -> Response:
        s = sim.state.shop
        return json_response(
            {
                "shop": {
                    "id": 548380009,
                    "name": s.get("name"),
                    "domain": s.get("domain"),
                    "myshopify_domain": s.get("domain"),
                    "currency": sim.state.currency,
                    "iana_timezone": str(sim.state.tz),
                }
            }
        )

    @router.get("/locations.json")
    async def locations() -> Response:
        return json_response({"locations": list(sim.state.locations.values())})

    @router.get("/orders.json")
    async def orders(request: Request) -> Response:
        try:
            return _list_orders(request, sim)
        except ShopError as exc:
            return _error(exc)

    @router.get("/orders/count.json")
    async def order_count(request: Request) -> Response:
        filters = {k: request.query_params[k] for k in _FILTERS if k in request.query_params}
        try:
            return json_response({"count": len(_sorted_orders(sim, filters))})
        except ShopError as exc:
            return _error(exc)

    @router.get("/orders/{order_id:int}.json")
    async def order(order_id: int, request: Request) -> Response:
        try:
            found = sim.state.order(order_id)
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": _fields([found], request.query_params.get("fields"))[0]})

    @router.put("/orders/{order_id:int}.json")
    async def update_order(order_id: int, request: Request) -> Response:
        try:
            body = await _body(request, "order")
            updated = sim.update_order(order_id, body)
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": updated})

    @router.post("/orders/{order_id:int}/cancel.json")
    async def cancel(order_id: int, request: Request) -> Response:
        try:
            body = await _body(request, None)
            cancelled = sim.cancel(
                order_id, str(body.get("reason", "other")), bool(body.get("restock", False))
            )
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": cancelled})

    @router.get("/orders/{order_id:int}/fulfillment_orders.json")
    async def fulfillment_orders(order_id: int) -> Response:
        try:
            return json_response({"fulfillment_orders": sim.state.fulfillment_orders_of(order_id)})
        except ShopError as exc:
            return _error(exc)

    @router.post("/fulfillments.json")
    async def create_fulfillment(request: Request) -> Response:
        try:
            body = await _body(request, "fulfillment")
        except ShopError as exc:
            return _error(exc)
        groups = body.get("line_items_by_fulfillment_order") or [{}]
        fo = sim.state.fulfillment_orders.get(int(groups[0].get("fulfillment_order_id") or 0))
        key = str(fo["order_id"]) if fo else "unknown"
        sim.effects.attempt("fulfillment", key)
        tracking = body.get("tracking_info") or {}
        number = tracking.get("number")
        try:
            fulfillment = sim.state.create_fulfillment(
                {
                    "line_items_by_fulfillment_order": body.get("line_items_by_fulfillment_order"),
                    "tracking_info": {
                        "numbers": [number] if number else [],
                        "urls": [tracking["url"]] if tracking.get("url") else [],
                        "company": tracking.get("company"),
                    },
                }
            )
        except ShopError as exc:
            sim.effects.refused("fulfillment", key)
            return _error(exc)
        sim.after_fulfillment(fulfillment)
        return json_response({"fulfillment": fulfillment}, 201)

    @router.post("/fulfillments/{fulfillment_id:int}/update_tracking.json")
    async def update_tracking(fulfillment_id: int, request: Request) -> Response:
        try:
            body = await _body(request, "fulfillment")
            fulfillment = sim.state.update_tracking(fulfillment_id, body.get("tracking_info") or {})
        except ShopError as exc:
            return _error(exc)
        sim.emit_order(sim.state.order(fulfillment["order_id"]), "orders/updated")
        return json_response({"fulfillment": fulfillment})

    @router.post("/orders/{order_id:int}/refunds/calculate.json")
    async def calculate_refund(order_id: int, request: Request) -> Response:
        try:
            body = await _body(request, "refund")
            return json_response({"refund": sim.state.payments.calculate(order_id, body)})
        except ShopError as exc:
            return _error(exc)

    @router.get("/orders/{order_id:int}/transactions.json")
    async def transactions(order_id: int) -> Response:
        try:
            return json_response({"transactions": sim.state.payments.transactions_of(order_id)})
        except ShopError as exc:
            return _error(exc)

    @router.get("/orders/{order_id:int}/refunds.json")
    async def refunds(order_id: int) -> Response:
        try:
            return json_response({"refunds": sim.state.order(order_id)["refunds"]})
        except ShopError as exc:
            return _error(exc)

    @router.post("/orders/{order_id:int}/refunds.json")
    async def refund(order_id: int, request: Request) -> Response:
        try:
            body = await _body(request, "refund")
            made = sim.refund(order_id, body)
        except ShopError as exc:
            return _error(exc)
        return json_response({"refund": made}, 201)

    @router.get("/products.json")
    async def products(request: Request) -> Response:
        limit = min(int(request.query_params.get("limit", 50)), MAX_LIMIT)
        items = [sim.state.product(pid) for pid in sorted(sim.state.products)][:limit]
        return json_response({"products": _fields(items, request.query_params.get("fields"))})

    @router.get("/products/{product_id:int}.json")
    async def product(product_id: int) -> Response:
        try:
            return json_response({"product": sim.state.product(product_id)})
        except ShopError as exc:
            return _error(exc)

    @router.put("/products/{product_id:int}.json")
    async def update_product(product_id: int, request: Request) -> Response:
        try:
            body = await _body(request, "product")
            updated = sim.state.update_product(product_id, body)
        except ShopError as exc:
            return _error(exc)
        sim.effects.created("product", str(product_id), state=updated["updated_at"])
        sim.emit_product(product_id)
        return json_response({"product": updated})

    @router.get("/variants/{variant_id:int}.json")
    async def variant(variant_id: int) -> Response:
        found = sim.state.variants.get(variant_id)
        if found is None:
            return _error(ShopError(404, {"errors": "Not Found"}))
        return json_response({"variant": found})

    @router.put("/variants/{variant_id:int}.json")
    async def update_variant(variant_id: int, request: Request) -> Response:
        sim.effects.attempt("price", str(variant_id))
        try:
            body = await _body(request, "variant")
            updated = sim.state.update_variant(variant_id, body)
        except ShopError as exc:
            return _error(exc)
        sim.effects.created("price", str(variant_id), state=updated["price"])
        sim.emit_product(updated["product_id"])
        return json_response({"variant": updated})

    @router.get("/inventory_levels.json")
    async def inventory_levels(request: Request) -> Response:
        q = request.query_params
        items = {int(x) for x in q.get("inventory_item_ids", "").split(",") if x.strip()}
        locs = {int(x) for x in q.get("location_ids", "").split(",") if x.strip()}
        if not items and not locs:
            return json_response(
                {"errors": {"inventory_item_ids": "or location_ids must be given"}}, 422
            )
        levels = [
            sim.state.level_payload(item, loc)
            for (item, loc) in sorted(sim.state.levels)
            if (not items or item in items) and (not locs or loc in locs)
        ]
        return json_response({"inventory_levels": levels})

    @router.post("/inventory_levels/set.json")
    async def set_level(request: Request) -> Response:
        return _inventory_change(sim, await request.body(), absolute=True)

    @router.post("/inventory_levels/adjust.json")
    async def adjust_level(request: Request) -> Response:
        return _inventory_change(sim, await request.body(), absolute=False)

    @router.get("/webhooks.json")
    async def webhooks() -> Response:
        assert sim.webhooks is not None
        return json_response(
            {"webhooks": [_webhook_json(sim, s) for s in sim.webhooks.subscriptions]}
        )

    @router.post("/webhooks.json")
    async def subscribe(request: Request) -> Response:
        from crossdock.sandbox.shopify._simulator import TOPICS

        assert sim.webhooks is not None
        try:
            body = await _body(request, "webhook")
        except ShopError as exc:
            return _error(exc)
        topic, address = body.get("topic"), body.get("address")
        if topic not in TOPICS:
            return json_response({"errors": {"topic": [f"Invalid topic specified: {topic}"]}}, 422)
        if not isinstance(address, str) or not address.startswith(("https://", "http://")):
            return json_response({"errors": {"address": ["is invalid"]}}, 422)
        sub = sim.webhooks.subscribe(address, [topic], body.get("name"))
        return json_response({"webhook": _webhook_json(sim, sub)}, 201)

    @router.delete("/webhooks/{webhook_id:int}.json")
    async def unsubscribe(webhook_id: int) -> Response:
        assert sim.webhooks is not None
        if not sim.webhooks.unsubscribe(webhook_id):
            return _error(ShopError(404, {"errors": "Not Found"}))
        return json_response({})

    @router.post("/graphql.json")
    async def graphql(request: Request) -> Response:
        from crossdock.sandbox.shopify._simulator import VERSION_KEY

        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/graphql"):
            payload: Any = {"query": raw.decode("utf-8", errors="replace")}
        else:
            try:
                payload = json.loads(raw or b"{}", parse_float=Decimal)
            except (json.JSONDecodeError, UnicodeDecodeError):
                return json_response({"errors": [{"message": "Invalid JSON in request body"}]}, 400)
        if not isinstance(payload, dict):
            return json_response({"errors": [{"message": "Invalid request body"}]}, 400)
        version = request.scope.get(VERSION_KEY, "")
        return json_response(sim.graphql.run(version, sim.access_token, payload))

    app.include_router(router)


def _webhook_json(sim: ShopifySimulator, sub: Any) -> dict[str, Any]:
    return {
        "id": sub.id,
        "address": sub.address,
        "topic": next(iter(sub.topics)) if sub.topics else None,
        "format": "json",
        "fields": [],
        "metafield_namespaces": [],
        "api_version": sim.state.shop.get("webhook_api_version"),
        "name": sub.name,
    }


def _inventory_change(sim: ShopifySimulator, raw: bytes, *, absolute: bool) -> Response:
    try:
        body = json.loads(raw or b"{}")
        item_id = int(body["inventory_item_id"])
        location_id = int(body["location_id"])
        amount = int(body["available"] if absolute else body["available_adjustment"])
    except (ValueError, KeyError, TypeError):
        field = "available" if absolute else "available_adjustment"
        return json_response({"errors": {field: "Required parameter missing or invalid"}}, 400)
    key = f"{item_id}@{location_id}"
    sim.effects.attempt("inventory", key)
    try:
        sim.state.check_level_target(item_id, location_id)
    except ShopError as exc:
        return _error(exc)
    target = amount if absolute else sim.state.quantity(item_id, location_id) + amount
    sim.state.set_available(item_id, location_id, target)
    sim.effects.created("inventory", key, state=target)
    sim.emit_level(item_id, location_id)
    return json_response({"inventory_level": sim.state.level_payload(item_id, location_id)})


def register_admin_helpers(router: APIRouter, sim: ShopifySimulator) -> None:
    """Storefront and merchant actions under ``/_sandbox/shopify`` (no auth, no faults)."""

    @router.post("/shopify/orders")
    async def place(request: Request) -> Response:
        try:
            spec = await _body(request, None)
            order = sim.place_order(spec)
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": order}, 201)

    @router.post("/shopify/orders/generate")
    @router.post("/traffic")
    async def generate(count: int = 1) -> Response:
        if not 1 <= count <= 1000:
            return json_response({"error": "count must be between 1 and 1000"}, 400)
        report = sim.generate_traffic(count)
        return json_response(report, 201 if not report.get("error") else 409)

    @router.post("/shopify/orders/{order_id:int}/cancel")
    async def merchant_cancel(order_id: int, request: Request) -> Response:
        try:
            body = await _body(request, None)
            order = sim.cancel(
                order_id, str(body.get("reason", "customer")), bool(body.get("restock", True))
            )
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": order})

    @router.post("/shopify/orders/{order_id:int}/edit")
    async def merchant_edit(order_id: int, request: Request) -> Response:
        # {"quantities": {"<line id>": n}, "add": [{"variant_id": v, "quantity": n}],
        #  "restock": true}: one whole order edit, as a merchant makes it in the admin.
        try:
            body = await _body(request, None)
            quantities = {int(k): int(v) for k, v in (body.get("quantities") or {}).items()}
            add = [(int(a["variant_id"]), int(a.get("quantity", 1))) for a in body.get("add") or []]
            order = sim.edit_order(order_id, quantities, add, bool(body.get("restock", True)))
        except (TypeError, ValueError, KeyError) as exc:
            return json_response({"error": f"bad edit: {exc}"}, 400)
        except ShopError as exc:
            return _error(exc)
        return json_response({"order": order})

    @router.post("/shopify/client-secret")
    async def rotate_secret(request: Request) -> Response:
        try:
            body = await _body(request, None)
        except ShopError as exc:
            return _error(exc)
        secret = body.get("client_secret")
        if not isinstance(secret, str) or not secret:
            return json_response({"error": "client_secret must be a non-empty string"}, 400)
        sim.rotate_client_secret(secret)
        return json_response({"rotated": True})

    @router.post("/shopify/webhooks/emit")
    async def replay(request: Request) -> Response:
        try:
            body = await _body(request, None)
        except ShopError as exc:
            return _error(exc)
        order = sim.state.orders.get(int(body.get("order_id", 0)))
        if order is None:
            return json_response({"error": "no such order"}, 404)
        sim.emit_order(order, str(body.get("topic", "orders/updated")))
        return json_response({"emitted": True}, 202)
