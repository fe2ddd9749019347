"""Reservations held durably in the store and checked atomically against available-to-promise.

Each SKU at a location has one flow state (``availability.reservation``, key ``sku@location``)
listing the units each open order holds. A reservation reads it, checks the new total against
the read model's level, and saves it with compare-and-set on its version in one transaction
with the order's own index (``availability.order``); a concurrent writer makes the save fail
with `StaleFlowState` and the whole attempt is retried. The version check is the database's,
so the guarantee holds across processes sharing a PostgreSQL store, not only within one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from crossdock.availability.model import DEFAULT_CHANNEL, location_key
from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.backbone.store import StaleFlowState, Store, Transaction
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType

__all__ = [
    "ORDER_FLOW",
    "RESERVATION_FLOW",
    "Line",
    "ReservationResult",
    "Reservations",
    "UnknownStock",
]

RESERVATION_FLOW: Final = "availability.reservation"
ORDER_FLOW: Final = "availability.order"


class UnknownStock(LookupError):  # noqa: N818 - says what the caller must know
    """No source has reported a level for this SKU at this location."""


@dataclass(frozen=True, slots=True)
class Line:
    """Units of one SKU at one location that an order wants held."""

    sku: str
    location: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"quantity must be at least 1, got {self.quantity}")


@dataclass(frozen=True, slots=True)
class ReservationResult:
    """The answer of a reservation.

    Attributes:
        accepted: True when every line is now held for the order (all or nothing).
        short: The lines that did not fit, with the units that were still promisable.
        attempts: Transactions tried (more than 1 after concurrent writers).
    """

    accepted: bool
    short: tuple[tuple[Line, int], ...] = ()
    attempts: int = 1


class _Short(Exception):  # noqa: N818 - internal: rolls the transaction back
    def __init__(self, short: list[tuple[Line, int]]) -> None:
        super().__init__("short")
        self.short = short


class Reservations:
    """Hold and release units for orders, never more than the read model can promise.

    Args:
        store: The store that keeps the reservations.
        model: The read model giving each level (and told of every new reserved total).
        max_attempts: Transactions tried under contention before giving up.
    """

    def __init__(
        self, store: Store, model: AvailabilityReadModel, *, max_attempts: int = 10_000
    ) -> None:
        self._store = store
        self._model = model
        self.max_attempts = max_attempts

    async def reserve(
        self,
        order_id: str,
        lines: Sequence[Line],
        *,
        channel: str = DEFAULT_CHANNEL,
        replace: bool = False,
    ) -> ReservationResult:
        """Hold every line for `order_id`, or none of them.

        Idempotent: reserving again for an order that already holds a line changes that
        line's quantity to the one asked (the order holds what it asks, once). With `replace`
        the order's holds at SKUs and locations not in `lines` end in the same transaction
        (an edited order, or one whose units are now taken elsewhere, holds exactly `lines`).

        Raises:
            UnknownStock: A line's SKU has no known level at its location.
            StaleFlowState: Still contended after `max_attempts` transactions.
        """
        if not order_id:
            raise ValueError("order_id must not be empty")
        merged: dict[tuple[str, str], int] = {}
        for line in lines:
            if self._model.level(line.sku, line.location) is None:
                raise UnknownStock(f"no stock level known for {line.sku} at {line.location}")
            merged[(line.sku, line.location)] = merged.get((line.sku, line.location), 0) + (
                line.quantity
            )
        wanted = [Line(sku, loc, qty) for (sku, loc), qty in sorted(merged.items())]
        for attempt in range(1, self.max_attempts + 1):
            totals: dict[tuple[str, str], int] = {}
            try:
                async with self._store.transaction() as tx:
                    await self._hold(tx, order_id, wanted, channel, totals, replace)
            except StaleFlowState:
                continue
            except _Short as short:
                return ReservationResult(False, tuple(short.short), attempt)
            for (sku, loc), total in totals.items():
                self._model.set_reserved(sku, loc, total)
            return ReservationResult(True, (), attempt)
        raise StaleFlowState(f"reservation of {order_id} still contended after retries")

    async def _hold(
        self,
        tx: Transaction,
        order_id: str,
        lines: Sequence[Line],
        channel: str,
        totals: dict[tuple[str, str], int],
        replace: bool = False,
    ) -> None:
        short: list[tuple[Line, int]] = []
        pending: list[tuple[Line, dict[str, Any], int]] = []
        for line in lines:
            key = location_key(line.sku, line.location)
            found = await tx.get_flow_state(RESERVATION_FLOW, key)
            orders: dict[str, Any] = dict(found.state.get("orders", {})) if found else {}
            version = found.version if found else 0
            held = int(orders.get(order_id, 0))
            others = sum(int(q) for o, q in orders.items() if o != order_id)
            promisable = self._promisable(line, channel) - others
            if line.quantity > promisable:
                short.append((line, max(0, promisable)))
                continue
            if held != line.quantity:
                orders[order_id] = line.quantity
                pending.append((line, orders, version))
            totals[(line.sku, line.location)] = others + line.quantity
        if short:
            raise _Short(short)
        for line, orders, version in pending:
            key = location_key(line.sku, line.location)
            await tx.save_flow_state(RESERVATION_FLOW, key, {"orders": orders}, version)
        dropped = await self._drop_others(tx, order_id, lines, totals) if replace else False
        if pending or dropped:
            keys = [(ln.sku, ln.location) for ln in lines]
            await self._index(tx, order_id, keys, replace=replace)

    @staticmethod
    async def _drop_others(
        tx: Transaction,
        order_id: str,
        lines: Sequence[Line],
        totals: dict[tuple[str, str], int],
    ) -> bool:
        """End the order's holds outside `lines`; True when one ended."""
        index = await tx.get_flow_state(ORDER_FLOW, order_id)
        kept = {(ln.sku, ln.location) for ln in lines}
        dropped = False
        for sku, loc in index.state.get("keys", []) if index else []:
            if (sku, loc) in kept:
                continue
            found = await tx.get_flow_state(RESERVATION_FLOW, location_key(sku, loc))
            if found is None or order_id not in found.state.get("orders", {}):
                continue
            orders = dict(found.state["orders"])
            orders.pop(order_id)
            await tx.save_flow_state(
                RESERVATION_FLOW, location_key(sku, loc), {"orders": orders}, found.version
            )
            totals[(sku, loc)] = sum(int(q) for q in orders.values())
            dropped = True
        return dropped

    def _promisable(self, line: Line, channel: str) -> int:
        level = self._model.level(line.sku, line.location)
        if level is None:
            return 0
        settings = self._model.settings
        return level.available - settings.safety_for(line.sku) - settings.buffer_for(channel)

    @staticmethod
    async def _index(
        tx: Transaction, order_id: str, keys: list[tuple[str, str]], *, replace: bool = False
    ) -> None:
        found = await tx.get_flow_state(ORDER_FLOW, order_id)
        held = [tuple(k) for k in found.state.get("keys", [])] if found and not replace else []
        for key in keys:
            if key not in held:
                held.append(key)
        await tx.save_flow_state(
            ORDER_FLOW, order_id, {"keys": [list(k) for k in held]}, found.version if found else 0
        )

    async def release(self, order_id: str) -> int:
        """Release everything `order_id` holds (cancelled, shipped, or committed in the ERP).

        Returns:
            The units released (0 when the order held nothing; releasing twice is harmless).
        """
        for _ in range(self.max_attempts):
            totals: dict[tuple[str, str], int] = {}
            released = 0
            try:
                async with self._store.transaction() as tx:
                    index = await tx.get_flow_state(ORDER_FLOW, order_id)
                    if index is None or not index.state.get("keys"):
                        return 0
                    for sku, loc in index.state["keys"]:
                        key = location_key(sku, loc)
                        found = await tx.get_flow_state(RESERVATION_FLOW, key)
                        if found is None:
                            continue
                        orders = dict(found.state.get("orders", {}))
                        released += int(orders.pop(order_id, 0))
                        await tx.save_flow_state(
                            RESERVATION_FLOW, key, {"orders": orders}, found.version
                        )
                        totals[(sku, loc)] = sum(int(q) for q in orders.values())
                    await tx.save_flow_state(ORDER_FLOW, order_id, {"keys": []}, index.version)
            except StaleFlowState:
                continue
            for (sku, loc), total in totals.items():
                self._model.set_reserved(sku, loc, total)
            return released
        raise StaleFlowState(f"release of {order_id} still contended after retries")

    async def release_for(self, event: Event) -> int:
        """Release the reservations an event ends; return the units released.

        ``order.cancelled`` releases the order (its ``data.id``, else its subject);
        ``shipment.created`` releases the shipped order (``data.order.id``): the shipped units
        leave on-hand, which the next warehouse or ERP level reports. Other events release
        nothing. Releasing is idempotent, so a replayed log is harmless.
        """
        order_id: object = None
        if event.type == EventType.ORDER_CANCELLED.value:
            order_id = event.data.get("id") or event.subject
        elif event.type == EventType.SHIPMENT_CREATED.value:
            order = event.data.get("order")
            order_id = order.get("id") if isinstance(order, dict) else None
        if not isinstance(order_id, str) or not order_id:
            return 0
        return await self.release(order_id)

    async def held(self, order_id: str) -> dict[tuple[str, str], int]:
        """Return the units `order_id` holds per (SKU, location), read from the store."""
        index = await self._store.get_flow_state(ORDER_FLOW, order_id)
        held: dict[tuple[str, str], int] = {}
        for sku, loc in index.state.get("keys", []) if index else []:
            found = await self._store.get_flow_state(RESERVATION_FLOW, location_key(sku, loc))
            units = int(found.state.get("orders", {}).get(order_id, 0)) if found else 0
            if units:
                held[(sku, loc)] = units
        return held

    async def reserved(self, sku: str, location: str) -> int:
        """Return the units held at `sku`@`location`, read from the store (and cache it)."""
        found = await self._store.get_flow_state(RESERVATION_FLOW, location_key(sku, location))
        total = sum(int(q) for q in found.state.get("orders", {}).values()) if found else 0
        self._model.set_reserved(sku, location, total)
        return total

    async def refresh(self) -> None:
        """Reload the held units of every known level (other processes' reservations too)."""
        for sku in self._model.skus():
            for location in self._model.locations(sku):
                await self.reserved(sku, location)
