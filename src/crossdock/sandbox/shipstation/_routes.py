"""The ShipStation V1 endpoints: orders, shipments and webhooks, behind auth and the quota."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.shipstation._defaults import WEBHOOK_EVENTS
from crossdock.sandbox.shipstation._errors import ShipStationError, invalid, not_found
from crossdock.sandbox.shipstation._json import loads, respond

if TYPE_CHECKING:
    from crossdock.sandbox.shipstation._simulator import ShipStationSimulator


async def read_json(request: Request, root: str = "apiOrder") -> Any:
    """The body decoded with exact decimals.

    Raises:
        ShipStationError: 400 when the body is not JSON.
    """
    raw = await request.body()
    try:
        return loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise invalid({root: [f"The request body is not valid JSON: {exc}"]}) from exc


def _order_id(body: Any) -> int:
    order_id = body.get("orderId") if isinstance(body, dict) else None
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        raise invalid({"orderId": ["The orderId field is required."]})
    return order_id


def register_routes(app: FastAPI, sim: ShipStationSimulator) -> None:
    """Add the V1 endpoints of ``sim`` to ``app``."""
    guard = [Depends(sim.guard)]

    def upsert(body: Any, base_url: str) -> dict[str, Any]:
        key = body.get("orderKey") if isinstance(body, dict) else None
        if isinstance(key, str) and key:
            sim.effects.attempt("order", key)
        result = sim.state.upsert(body)
        order = result.order
        if not (isinstance(key, str) and key):
            sim.effects.attempt("order", order["orderKey"])
        if result.created:
            sim.effects.created("order", order["orderKey"], state=order["orderStatus"])
        else:
            sim.effects.absorbed("order", order["orderKey"])
            sim.effects.state("order", order["orderKey"], order["orderStatus"])
        if result.changed:
            sim.after_order_write(order, base_url)
        return order

    @app.post("/orders/createorder", dependencies=guard)
    async def create_order(request: Request) -> Response:
        try:
            order = upsert(await read_json(request), str(request.base_url).rstrip("/"))
        except ShipStationError as exc:
            return exc.response()
        return respond(order)

    @app.post("/orders/createorders", dependencies=guard)
    async def create_orders(request: Request) -> Response:
        try:
            body = await read_json(request, "apiOrders")
        except ShipStationError as exc:
            return exc.response()
        if not isinstance(body, list):
            return invalid({"apiOrders": ["The body must be an array of orders."]}).response()
        results = []
        for index, item in enumerate(body):
            try:
                order = upsert(item, str(request.base_url).rstrip("/"))
            except ShipStationError as exc:
                results.append(_bulk_failure(item, index, exc))
                continue
            results.append(
                {
                    "orderId": order["orderId"],
                    "orderNumber": order["orderNumber"],
                    "orderKey": order["orderKey"],
                    "success": True,
                    "errorMessage": None,
                }
            )
        return respond({"hasErrors": any(not r["success"] for r in results), "results": results})

    @app.get("/orders/{order_id}", dependencies=guard)
    async def get_order(order_id: str) -> Response:
        try:
            if not order_id.isdigit():
                raise not_found(f"Order {order_id} not found.")
            return respond(sim.state.order(int(order_id)))
        except ShipStationError as exc:
            return exc.response()

    @app.get("/orders", dependencies=guard)
    async def list_orders(request: Request) -> Response:
        try:
            return respond(sim.state.find_orders(dict(request.query_params)))
        except ShipStationError as exc:
            return exc.response()

    @app.post("/orders/holduntil", dependencies=guard)
    async def hold_until(request: Request) -> Response:
        try:
            body = await read_json(request)
            until = body.get("holdUntilDate") if isinstance(body, dict) else None
            if not isinstance(until, str) or not until:
                raise invalid({"holdUntilDate": ["The holdUntilDate field is required."]})
            order = sim.state.hold(_order_id(body), until)
        except ShipStationError as exc:
            return exc.response()
        sim.effects.state("order", order["orderKey"], "on_hold")
        return respond({"success": True, "message": "Order held successfully."})

    @app.post("/orders/restorefromhold", dependencies=guard)
    async def restore(request: Request) -> Response:
        try:
            order = sim.state.restore(_order_id(await read_json(request)))
        except ShipStationError as exc:
            return exc.response()
        sim.effects.state("order", order["orderKey"], order["orderStatus"])
        sim.after_order_write(order, str(request.base_url).rstrip("/"))
        return respond({"success": True, "message": "Order restored successfully."})

    @app.get("/shipments", dependencies=guard)
    async def shipments(request: Request) -> Response:
        try:
            return respond(sim.state.find_shipments(dict(request.query_params)))
        except ShipStationError as exc:
            return exc.response()

    @app.post("/shipments/voidlabel", dependencies=guard)
    async def void_label(request: Request) -> Response:
        try:
            body = await read_json(request)
            shipment_id = body.get("shipmentId") if isinstance(body, dict) else None
            if not isinstance(shipment_id, int) or isinstance(shipment_id, bool):
                raise invalid({"shipmentId": ["The shipmentId field is required."]})
            _, already = sim.void(shipment_id, base_url=str(request.base_url).rstrip("/"))
        except ShipStationError as exc:
            return exc.response()
        message = "Label already voided." if already else "Label voided successfully"
        return respond({"approved": True, "message": message})

    register_webhook_routes(app, sim)


def _bulk_failure(item: Any, index: int, exc: ShipStationError) -> dict[str, Any]:
    known = item if isinstance(item, dict) else {}
    return {
        "orderId": 0,
        "orderNumber": known.get("orderNumber"),
        "orderKey": known.get("orderKey"),
        "success": False,
        "errorMessage": f"order {index}: {exc.body}",
    }


def register_webhook_routes(app: FastAPI, sim: ShipStationSimulator) -> None:
    """``/webhooks``: subscribe, list and unsubscribe."""
    guard = [Depends(sim.guard)]

    @app.post("/webhooks/subscribe", dependencies=guard)
    async def subscribe(request: Request) -> Response:
        try:
            body = await read_json(request, "webhook")
            if not isinstance(body, dict):
                raise invalid({"webhook": ["The body must be a JSON object."]})
            target, event = body.get("target_url"), body.get("event")
            problems: dict[str, list[str]] = {}
            if not isinstance(target, str) or not target.startswith(("http://", "https://")):
                problems["target_url"] = ["The target_url field is required (http or https)."]
            if event not in WEBHOOK_EVENTS:
                problems["event"] = [f"The event must be one of {', '.join(WEBHOOK_EVENTS)}."]
            if problems:
                raise invalid(problems)
        except ShipStationError as exc:
            return exc.response()
        assert sim.webhooks is not None
        name = body.get("friendly_name")
        sub = sim.webhooks.subscribe(str(target), [str(event)], str(name) if name else None)
        sim.hooks[sub.id] = {"store_id": body.get("store_id"), "event": event}
        return respond({"id": sub.id}, 201)

    @app.get("/webhooks", dependencies=guard)
    async def list_hooks() -> Response:
        assert sim.webhooks is not None
        hooks = [
            {
                "IsLabelAPIHook": False,
                "WebHookID": sub.id,
                "SellerID": 1,
                "StoreID": sim.hooks.get(sub.id, {}).get("store_id"),
                "HookType": sim.hooks.get(sub.id, {}).get("event"),
                "MessageFormat": "Json",
                "Url": sub.address,
                "Name": sub.name,
                "Active": True,
            }
            for sub in sim.webhooks.subscriptions
        ]
        return respond({"webhooks": hooks})

    @app.delete("/webhooks/{webhook_id}", dependencies=guard)
    async def unsubscribe(webhook_id: str) -> Response:
        assert sim.webhooks is not None
        if not webhook_id.isdigit() or not sim.webhooks.unsubscribe(int(webhook_id)):
            return not_found(f"Webhook {webhook_id} not found.").response()
        sim.hooks.pop(int(webhook_id), None)
        return Response(status_code=200)
