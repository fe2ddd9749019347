"""The order-to-fulfilment flow: routing and lookups around the pure `decide`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from crossdock.backbone.store import JSONObject, Store
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import Decision, FlowRejected
from crossdock.flows.machine import StateMachine
from crossdock.flows.order_fulfilment.decide import (
    EMAIL_LINK,
    FLOW_NAME,
    NUMBER_LINK,
    ORDER_EVENTS,
    RESULT_EVENTS,
    SHIPMENT_EVENTS,
    OrderContext,
    decide,
    tracking_link,
)
from crossdock.flows.order_fulfilment.machine import MACHINE
from crossdock.flows.order_fulfilment.ports import AvailabilityLookup
from crossdock.flows.order_fulfilment.settings import OrderFulfilmentSettings

__all__ = ["EMAIL_LINK", "OrderFulfilment", "order_key_for"]

_KEYS = uuid.UUID("5c0a7f9e-2b3d-5e41-8a6c-0d9e4b7f1a23")


def order_key_for(channel: str, external_id: str) -> str:
    """The hub id given to a channel order seen for the first time (stable across replays)."""
    return str(uuid.uuid5(_KEYS, f"{channel}|{external_id}"))


class OrderFulfilment:
    """The order flow, as the `FlowRunner` drives it.

    Args:
        settings: Systems by role and the flow's rules.
        availability: The availability cache port (stock checks never call the ERP).
    """

    name: str = FLOW_NAME
    subscribes: frozenset[str] = ORDER_EVENTS | SHIPMENT_EVENTS | RESULT_EVENTS | {"invoice.paid"}
    machine: StateMachine = MACHINE

    def __init__(self, settings: OrderFulfilmentSettings, availability: AvailabilityLookup) -> None:
        self.settings = settings
        self.availability = availability

    async def route(self, event: Event, store: Store) -> str | None:
        """Return the hub order id the event is about (None: not this flow's)."""
        data = event.data
        if event.type in ORDER_EVENTS:
            return await self._order_key(event, store)
        if event.type in SHIPMENT_EVENTS:
            return await self._shipment_key(data, store)
        if event.type in RESULT_EVENTS:
            instance = data.get("instance")
            if isinstance(instance, Mapping) and instance.get("flow") == FLOW_NAME:
                return str(instance.get("key") or event.subject)
            return None
        order = data.get("order")
        if isinstance(order, Mapping) and isinstance(order.get("id"), str):
            return str(order["id"])
        return None

    async def _order_key(self, event: Event, store: Store) -> str:
        if isinstance(event.data.get("id"), str) and event.data["id"]:
            return str(event.data["id"])
        channel = self.settings.channel_system(event.source) or self.settings.channel_system(
            str(event.data.get("channel", ""))
        )
        if channel is None or not event.subject:
            raise FlowRejected(
                f"{event.type} from {event.source} names no order the flow can key "
                "(no hub id, and not from a configured channel with a subject)"
            )
        known = await store.canonical_id(channel, event.subject)
        return known or order_key_for(channel, event.subject)

    async def _shipment_key(self, data: Mapping[str, Any], store: Store) -> str:
        order = data.get("order")
        if isinstance(order, Mapping):
            if isinstance(order.get("id"), str) and order["id"]:
                return str(order["id"])
            if isinstance(order.get("number"), str):
                found = await store.canonical_id(NUMBER_LINK, order["number"])
                if found is not None:
                    return found
        number, carrier = data.get("tracking_number"), data.get("carrier")
        if isinstance(number, str) and isinstance(carrier, str):
            found = await store.canonical_id(tracking_link(carrier, number), number)
            if found is not None:
                return found
        raise FlowRejected(f"shipment for an order the hub does not know: {order!r}")

    async def context(
        self, key: str, event: Event, state: JSONObject | None, store: Store
    ) -> OrderContext:
        """Look up availability of the order's SKUs, its customer and its links."""
        data = event.data
        availability: Mapping[str, int | None] = {}
        customer_id: str | None = state.get("customer_id") if state else None
        if event.type in ("order.placed", "order.updated"):
            skus = sorted(
                {
                    str(line["sku"])
                    for line in data.get("lines") or []
                    if isinstance(line, Mapping) and line.get("sku")
                }
            )
            availability = await self.availability.available(skus)
            customer_id = customer_id or await self._customer(data, store)
        links = (
            {} if state is None else {ln.system: ln.external_id for ln in await store.links_of(key)}
        )
        return OrderContext(key, self.settings, availability, customer_id, links)

    async def _customer(self, data: Mapping[str, Any], store: Store) -> str | None:
        customer = data.get("customer")
        if not isinstance(customer, Mapping):
            return None
        if isinstance(customer.get("id"), str) and customer["id"]:
            return str(customer["id"])
        email = customer.get("email") or data.get("email")
        if isinstance(email, str) and email:
            return await store.canonical_id(EMAIL_LINK, email.strip().lower())
        return None

    def decide(self, state: JSONObject | None, event: Event, context: OrderContext) -> Decision:
        """The pure decision (`crossdock.flows.order_fulfilment.decide.decide`)."""
        return decide(state, event, context)
