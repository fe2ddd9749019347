"""The order-to-fulfilment flow: routing and lookups around the pure `decide`.

Routing: an order event belongs to the flow only when its source is a configured channel (the
ERP's polled ``order.updated`` is the ERP's echo, not a channel's change); shipments by their
order reference (a later part's key ``<id>-<n>`` or number ``<number>-<n>`` included), else by
tracking number; results by the instance their command named; ``order.stock_check`` by its
``order_id``.

Lookups: when the availability port is a `StockReservations`, the flow reserves the order's
shippable units while the order is before release (and a backorder's waiting units later),
and the decision is made on the reservation's answer. A quantity edit the decision applies
(`quantity_edit_units`) reserves again: the edited order's every unit while the hub still
holds them (``validated``) or the order waits for stock (``backorder``), else the units the
edit adds (the ERP's figures carry the rest; the hold ends once the ERP has them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from crossdock.backbone.store import JSONObject, Store
from crossdock.canonical.envelope import Event
from crossdock.canonical.order import parse_order
from crossdock.flows.engine import Decision, FlowRejected
from crossdock.flows.machine import StateMachine
from crossdock.flows.order_fulfilment.decide import (
    EMAIL_LINK,
    FLOW_NAME,
    NUMBER_LINK,
    ORDER_EVENTS,
    RESULT_EVENTS,
    SHIPMENT_EVENTS,
    STOCK_CHECK,
    OrderContext,
    decide,
    part_number_link,
    quantity_edit_units,
    tracking_link,
    units_by_sku,
    unreleased_units,
    wanted_units,
)
from crossdock.flows.order_fulfilment.machine import MACHINE
from crossdock.flows.order_fulfilment.ports import AvailabilityLookup, StockReservations
from crossdock.flows.order_fulfilment.settings import BackorderRule, OrderFulfilmentSettings

__all__ = ["EMAIL_LINK", "OrderFulfilment", "order_key_for"]

_KEYS = uuid.UUID("5c0a7f9e-2b3d-5e41-8a6c-0d9e4b7f1a23")
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PART_KEY = re.compile(rf"^({_UUID})-([1-9][0-9]{{0,2}})$")
"""A later part's warehouse order key: the hub id (a UUID) and ``-<part>``."""
_PART_NUMBER = re.compile(r"^.+-([1-9][0-9]{0,2})$")
_RESERVING = frozenset({"received", "invalid_address", "quarantined"})
"""States whose ``order.updated`` validates the order again (so it reserves again)."""


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
    subscribes: frozenset[str] = (
        ORDER_EVENTS | SHIPMENT_EVENTS | RESULT_EVENTS | {"invoice.paid", STOCK_CHECK}
    )
    machine: StateMachine = MACHINE

    def __init__(self, settings: OrderFulfilmentSettings, availability: AvailabilityLookup) -> None:
        self.settings = settings
        self.availability = availability

    async def route(self, event: Event, store: Store) -> str | None:
        """Return the hub order id the event is about (None: not this flow's)."""
        data = event.data
        if event.type in ORDER_EVENTS:
            if self.settings.channel_system(event.source) is None:
                return None  # e.g. the ERP's polled order.updated: not a channel's change
            return await self._order_key(event, store)
        if event.type == STOCK_CHECK:
            key = data.get("order_id") or event.subject
            return str(key) if isinstance(key, str) and key else None
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
                part = _PART_KEY.match(order["id"])
                return part.group(1) if part else str(order["id"])
            if isinstance(order.get("number"), str):
                number = order["number"]
                found = await store.canonical_id(NUMBER_LINK, number)
                part = _PART_NUMBER.match(number)
                if found is None and part is not None:
                    found = await store.canonical_id(part_number_link(int(part.group(1))), number)
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
        """Look up (or reserve) stock of the order's SKUs, its customer and its links.

        Raises:
            crossdock.runtime.errors.RetryableError: The availability cannot answer now.
        """
        data = event.data
        availability: Mapping[str, int | None] = {}
        held: Mapping[str, int] | None = None
        customer_id: str | None = state.get("customer_id") if state else None
        reserves = isinstance(self.availability, StockReservations)
        placing = state is None and event.type in ("order.placed", "order.updated")
        if placing or event.type == "order.updated":
            customer_id = customer_id or await self._customer(data, store)
        wanted, partial = self._wanted(event, state)
        if wanted is not None:
            if reserves:
                availability, held = await self._reserve(key, wanted, partial, event, state)
            else:
                availability = await self.availability.available(sorted(wanted))
        elif event.type in ("order.placed", "order.updated"):
            availability = await self.availability.available(_skus(data))
        links = (
            {} if state is None else {ln.system: ln.external_id for ln in await store.links_of(key)}
        )
        return OrderContext(
            key, self.settings, availability, customer_id, links, reserves=reserves, held=held
        )

    def _wanted(self, event: Event, state: JSONObject | None) -> tuple[dict[str, int] | None, bool]:
        """The units per SKU the decision checks stock for (None: none), and whether a
        partial hold is worth having (the backorder rule releases what is in stock)."""
        rule = self.settings.backorder
        first = rule is not BackorderRule.HOLD
        status = None if state is None else str(state.get("status"))
        if event.type in ("order.placed", "order.updated") and (
            state is None or (event.type == "order.updated" and status in _RESERVING)
        ):
            if event.data.get("status") == "cancelled":
                return None, False
            try:
                order = parse_order({**event.data, "id": None})
            except (ValueError, TypeError):
                return None, False  # the decision rejects it; hold nothing for it
            return wanted_units(order.model_dump(mode="json")), first
        if state is None or event.type not in ("order.updated", STOCK_CHECK):
            return None, False
        if event.type == "order.updated" and event.data.get("status") != "cancelled":
            edit = self._edit(event, state)
            if edit:
                # Every unit (validated, backorder): placement rules; only added units: all.
                return edit, first and status in ("validated", "backorder")
        if status == "backorder":
            return units_by_sku(state, unreleased_units(state)), first
        if status == "partial_backorder":
            return units_by_sku(state, dict(state.get("pending") or {})), False
        return None, False

    def _edit(self, event: Event, state: JSONObject) -> dict[str, int] | None:
        """The units a quantity edit the decision will apply must find in stock, or None."""
        try:
            order = parse_order({**event.data, "id": None})
        except (ValueError, TypeError):
            return None  # the decision rejects it
        return quantity_edit_units(state, order.model_dump(mode="json"), self.settings)

    async def _reserve(
        self,
        key: str,
        wanted: Mapping[str, int],
        partial: bool,
        event: Event,
        state: JSONObject | None,
    ) -> tuple[Mapping[str, int | None], Mapping[str, int]]:
        """Hold `wanted` for the order; return (the answer, the units now held).

        When the whole cannot be held and `partial` is set, hold what can be (the rule
        releases it now); the answer stays the first one, which the decision reads.
        """
        assert isinstance(self.availability, StockReservations)
        channel = (
            str(state["channel"])
            if state and state.get("channel")
            else self.settings.channel_system(event.source) or event.source
        )
        if not wanted:
            return {}, {}
        answer = await self.availability.reserve(key, wanted, channel=channel)
        if all((answer.get(sku) or 0) >= units for sku, units in wanted.items()):
            return answer, dict(wanted)
        if partial and all(answer.get(sku) is not None for sku in wanted):
            some = {
                sku: min(units, int(answer.get(sku) or 0))
                for sku, units in wanted.items()
                if (answer.get(sku) or 0) > 0
            }
            if some:
                again = await self.availability.reserve(key, some, channel=channel)
                if all((again.get(sku) or 0) >= units for sku, units in some.items()):
                    return answer, some
        return answer, {}

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


def _skus(data: Mapping[str, Any]) -> list[str]:
    return sorted(
        {
            str(line["sku"])
            for line in data.get("lines") or []
            if isinstance(line, Mapping) and line.get("sku")
        }
    )
