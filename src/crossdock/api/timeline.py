"""``GET /v1/orders/{id}``: an order's events across systems, found by any system's id.

The id may be a canonical id, an event subject (``gid://shopify/Order/1042``), a bare Shopify
order id, or any system's id that the links table maps to a canonical id. The answer gathers the
events about each matching subject and every event sharing their correlation ids, in log order.

This is a first cut of the read model: it reads the event log directly and reports the latest
event type as the order's state until the order flow keeps a state of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from crossdock.backbone.store import Store, StoredEvent

__all__ = ["order_timeline", "timeline_router"]

_ORDER_SUBJECT_PREFIXES = ("gid://shopify/Order/",)


async def _subjects(store: Store, order_id: str, systems: Sequence[str]) -> list[str]:
    candidates = [order_id]
    if order_id.isdigit():
        candidates += [f"{prefix}{order_id}" for prefix in _ORDER_SUBJECT_PREFIXES]
    for system in systems:
        canonical = await store.canonical_id(system, order_id)
        if canonical is not None:
            candidates.append(canonical)
    return list(dict.fromkeys(candidates))


def _event_json(stored: StoredEvent) -> dict[str, Any]:
    event = stored.event.model_dump(mode="json")
    return {"position": stored.position, "recorded_at": stored.recorded_at.isoformat(), **event}


async def order_timeline(
    store: Store, order_id: str, systems: Sequence[str] = ()
) -> dict[str, Any] | None:
    """Return an order's timeline, or None when no event is known about `order_id`.

    Args:
        store: The store to read.
        order_id: Any id of the order (see the module docstring).
        systems: The system names to look the id up under in the links table.
    """
    found: dict[int, StoredEvent] = {}
    subjects = await _subjects(store, order_id, systems)
    for subject in subjects:
        for stored in await store.events_by_subject(subject):
            found[stored.position] = stored
    for correlation_id in {s.event.correlationid for s in found.values() if s.event.correlationid}:
        for stored in await store.events_by_correlation(correlation_id):
            found[stored.position] = stored
    if not found:
        return None
    events = [found[p] for p in sorted(found)]
    links = []
    for subject in subjects:
        links += [
            {"canonical_id": link.canonical_id, "system": link.system, "id": link.external_id}
            for link in await store.links_of(subject)
        ]
    return {
        "id": order_id,
        "state": events[-1].event.type,
        "subjects": sorted({s.event.subject for s in events if s.event.subject}),
        "correlation_ids": sorted({s.event.correlationid for s in events if s.event.correlationid}),
        "links": links,
        "events": [_event_json(s) for s in events],
    }


def timeline_router(store: Store, systems: Sequence[str] = ()) -> APIRouter:
    """Build the order-timeline router (``GET /v1/orders/{order_id}``)."""
    router = APIRouter(tags=["orders"])

    @router.get("/v1/orders/{order_id:path}")
    async def get_order(order_id: str) -> JSONResponse:
        timeline = await order_timeline(store, order_id, systems)
        if timeline is None:
            return JSONResponse(
                {"error": "not_found", "detail": f"no event is known about order {order_id!r}"},
                status_code=404,
            )
        return JSONResponse(timeline)

    return router
