"""Warehouse actions under ``/_sandbox/shipstation`` (no auth, no faults, no quota)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from crossdock.sandbox.shipstation._errors import ShipStationError, invalid, not_found
from crossdock.sandbox.shipstation._json import respond
from crossdock.sandbox.shipstation._routes import read_json

if TYPE_CHECKING:
    from crossdock.sandbox.shipstation._simulator import ShipStationSimulator


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid({"body": ["A JSON object is required."]})
    return body


def _resolve_order(sim: ShipStationSimulator, body: dict[str, Any]) -> int:
    if isinstance(body.get("orderId"), int):
        return int(body["orderId"])
    key = body.get("orderKey")
    if isinstance(key, str) and key in sim.state.by_key:
        return sim.state.by_key[key]
    raise not_found(f"No order with orderId {body.get('orderId')} or orderKey {key!r}.")


def register_admin_routes(router: APIRouter, sim: ShipStationSimulator) -> None:
    """Add the warehouse helpers to the kit's admin router."""

    @router.post("/shipstation/ship")
    async def ship(request: Request) -> Response:
        """Ship some (``items``) or all remaining units; SHIP_NOTIFY follows unless notify=false."""
        try:
            body = _object(await read_json(request, "shipment"))
            order_id = _resolve_order(sim, body)
            shipment, batch = sim.ship(
                order_id,
                body,
                base_url=str(body.get("base_url") or sim.public_url or request.base_url),
                notify=bool(body.get("notify", True)),
            )
        except ShipStationError as exc:
            return exc.response()
        return respond({"shipment": shipment, "batchId": batch}, 201)

    @router.post("/shipstation/void")
    async def void(request: Request) -> Response:
        """Mark a label voided (as a warehouse would in the ShipStation app)."""
        try:
            body = _object(await read_json(request, "shipment"))
            shipment_id = body.get("shipmentId")
            if not isinstance(shipment_id, int):
                raise invalid({"shipmentId": ["The shipmentId field is required."]})
            notify = body.get("notify")
            shipment, already = sim.void(
                shipment_id,
                base_url=str(body.get("base_url") or sim.public_url or request.base_url),
                notify=None if notify is None else bool(notify),
            )
        except ShipStationError as exc:
            return exc.response()
        return respond({"shipment": shipment, "already_voided": already})

    @router.post("/shipstation/limits")
    async def limits(request: Request) -> Response:
        """Change the quota: ``{"limit": 40, "window_s": 60}``."""
        try:
            body = _object(await read_json(request, "limits"))
            sim.window.configure(int(body.get("limit", 40)), float(body.get("window_s", 60)))
        except (ShipStationError, ValueError, TypeError) as exc:
            if isinstance(exc, ShipStationError):
                return exc.response()
            return invalid({"limits": [str(exc)]}).response()
        sim.window.reset()
        return respond({"limit": sim.window.limit, "window_s": sim.window.window_s})

    @router.get("/shipstation/orders")
    async def orders() -> Response:
        """Every order, with the units each still has to ship."""
        return respond(
            {
                "orders": [
                    order | {"unshipped": sum(sim.state.remaining(order).values())}
                    for order in sim.state.orders.values()
                ]
            }
        )
