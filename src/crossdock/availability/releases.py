"""Ending holds: the ``reservation.release`` command, with ``committed`` releases deferred.

The order flow asks for a hold to end with a ``reservation.release`` command (payload
``order_id``, ``reason``, ``instance``) that the hub's worker pool performs here.

- ``cancelled``, ``quarantined``, ``shipped`` and any other reason: the hold ends at once.
- ``committed`` (the ERP has the sales order): the ERP's own figures will carry the units, but
  only once the hub has read a level of the ERP that includes the commitment. Ending the hold
  earlier would count the units zero times; ending it much later counts them twice. So the
  release is recorded as pending (durably, flow state ``availability.pending_release``) and
  performed by `settle` once an ERP inventory poll that *started after the release was asked
  for* has completed and the read model has read what it appended. That poll saw the ERP's
  state after the sales order was created (the release is asked only after), so for every SKU
  and location the order holds, the level the model now has is at least as new as the
  release: either that poll brought the level reflecting the commitment, or an earlier one
  already had.
- ``committed`` when the ERP's levels do not deduct commitments (Business Central's item
  ``inventory`` is on hand only): the units leave the ERP's figure only when the shipment is
  posted there. The hold is kept until the log holds the order's ``erp.fulfillment.recorded``
  (the ERP posted a shipment), then ends like a deferred release asked for at that moment.
  A partial shipment ends the whole hold (as `Reservations.release_for` does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.availability.reservations import Reservations
from crossdock.backbone.store import JSONObject, StaleFlowState, Store, StoreUnavailable
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import PermanentError, RetryableError

__all__ = ["COMMITTED", "FULFILMENT_RECORDED", "PENDING_FLOW", "DeferredReleases"]

PENDING_FLOW: Final = "availability.pending_release"
_PENDING_KEY: Final = "main"
COMMITTED: Final = "committed"
FULFILMENT_RECORDED: Final = "erp.fulfillment.recorded"
_AFTER_POLL: Final = "orders"
_AFTER_FULFILMENT: Final = "until_fulfilled"
_ATTEMPTS: Final = 20


class DeferredReleases:
    """Performs ``reservation.release`` commands; defers ``committed`` ones (see module doc).

    Args:
        store: The hub's store (pending releases are kept there).
        model: The read model (caught up before a deferred release is performed).
        reservations: The holds.
        defer_committed: Whether the ERP's levels deduct commitments (False: a ``committed``
            release keeps the hold until the ERP has posted the order's shipment).
        clock: Wall-clock seconds (``time.time``), comparable with the pollers' start times.
    """

    def __init__(
        self,
        store: Store,
        model: AvailabilityReadModel,
        reservations: Reservations,
        *,
        defer_committed: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._model = model
        self._reservations = reservations
        self.defer_committed = defer_committed
        self._clock = clock
        self._log = get_logger("crossdock.availability.releases")

    async def _maps(self) -> tuple[dict[str, float], dict[str, float]]:
        found = await self._store.get_flow_state(PENDING_FLOW, _PENDING_KEY)
        state: Mapping[str, Any] = found.state if found else {}
        return (
            {str(o): float(at) for o, at in state.get(_AFTER_POLL, {}).items()},
            {str(o): float(at) for o, at in state.get(_AFTER_FULFILMENT, {}).items()},
        )

    async def pending(self) -> dict[str, float]:
        """Order id to when its ``committed`` release was asked for (wall-clock seconds)."""
        return (await self._maps())[0]

    async def awaiting_fulfilment(self) -> dict[str, float]:
        """Orders whose hold ends once the ERP has posted their shipment (asked-at times)."""
        return (await self._maps())[1]

    async def _change(
        self,
        add: Mapping[str, float],
        remove: set[str],
        *,
        wait_fulfilment: Mapping[str, float] | None = None,
    ) -> None:
        for _ in range(_ATTEMPTS):
            found = await self._store.get_flow_state(PENDING_FLOW, _PENDING_KEY)
            after_poll = dict(found.state.get(_AFTER_POLL, {})) if found else {}
            after_fulfilment = dict(found.state.get(_AFTER_FULFILMENT, {})) if found else {}
            before = (dict(after_poll), dict(after_fulfilment))
            for order in remove:
                after_poll.pop(order, None)
                after_fulfilment.pop(order, None)
            for order, at in (wait_fulfilment or {}).items():
                after_fulfilment.setdefault(order, at)
            for order, at in add.items():
                after_fulfilment.pop(order, None)
                after_poll.setdefault(order, at)
            if (after_poll, after_fulfilment) == before:
                return
            version = found.version if found else 0
            state = {_AFTER_POLL: after_poll, _AFTER_FULFILMENT: after_fulfilment}
            try:
                async with self._store.transaction() as tx:
                    await tx.save_flow_state(PENDING_FLOW, _PENDING_KEY, state, version)
                return
            except StaleFlowState:
                continue
        raise StaleFlowState("pending releases still contended after retries")

    async def perform(self, payload: Mapping[str, Any]) -> JSONObject:
        """Perform one ``reservation.release`` command; return what it did.

        Raises:
            PermanentError: The payload names no order.
            RetryableError: The store cannot answer now.
        """
        order_id = payload.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise PermanentError("reservation.release needs an order_id", detail=repr(order_id))
        reason = str(payload.get("reason") or "")
        try:
            if reason == COMMITTED:
                if not await self._reservations.held(order_id):
                    return {"order_id": order_id, "reason": reason, "outcome": "nothing_held"}
                asked = self._clock()
                if not self.defer_committed:
                    await self._change({}, set(), wait_fulfilment={order_id: asked})
                    outcome = "until_fulfilled"
                else:
                    await self._change({order_id: asked}, set())
                    outcome = "deferred"
                return {
                    "order_id": order_id,
                    "reason": reason,
                    "outcome": outcome,
                    "asked_at": asked,
                }
            units = await self._reservations.release(order_id)
            await self._change({}, {order_id})
        except (StoreUnavailable, StaleFlowState) as exc:
            raise RetryableError(f"release of {order_id}: {exc}") from exc
        return {"order_id": order_id, "reason": reason, "outcome": "released", "units": units}

    async def _fulfilled(self, orders: Mapping[str, float]) -> dict[str, float]:
        """The orders among `orders` whose shipment the ERP has posted, stamped now."""
        now = self._clock()
        found: dict[str, float] = {}
        for order in orders:
            events = await self._store.events_by_subject(order)
            if any(stored.event.type == FULFILMENT_RECORDED for stored in events):
                found[order] = now
        return found

    async def settle(self, polled_at: float) -> list[str]:
        """Perform the deferred releases asked for before an ERP poll that started at
        `polled_at` and has completed; return the orders released.

        An order waiting for its shipment to be posted in the ERP becomes such a deferred
        release, asked for now, once its ``erp.fulfillment.recorded`` is in the log.
        """
        pending, waiting = await self._maps()
        if waiting:
            fulfilled = await self._fulfilled(waiting)
            if fulfilled:
                await self._change(fulfilled, set())
                pending.update(fulfilled)
        due = sorted(order for order, at in pending.items() if at <= polled_at)
        if not due:
            return []
        await self._model.catch_up()  # the poll's levels are in the log: read them first
        for order in due:
            await self._reservations.release(order)
        await self._change({}, set(due))
        self._log.info("deferred releases performed", orders=len(due))
        return due
