"""The order flow's stock port over the read model and the reservations.

`ReservingAvailability` is what the order flow checks and holds stock through (its
`StockReservations` port): `available` answers from the read model; `reserve` holds an order's
units per SKU, choosing the locations.

Location choice: the order flow asks per SKU, the hub holds per SKU and location. For each SKU
the locations that can promise something to this order are taken in order of what they can
promise (most first, then by name), and the order's units are held at the first of them until
the SKU is covered: one location when one can cover it, else split over the fewest. What a
location can promise to this order is its level less safety stock, the channel's buffer and
what *other* orders hold there (the order's own earlier hold counts as its own). The hold
replaces whatever the order held before, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from crossdock.availability.model import DEFAULT_CHANNEL
from crossdock.availability.readmodel import AvailabilityReadModel
from crossdock.availability.reservations import Line, Reservations, UnknownStock
from crossdock.backbone.store import StaleFlowState, StoreUnavailable
from crossdock.runtime.errors import RetryableError

__all__ = ["ReservingAvailability"]

_ATTEMPTS: Final = 5


class ReservingAvailability:
    """Available-to-promise and atomic holds, for the order flow.

    Args:
        model: The read model (levels, safety stock, buffers).
        reservations: The durable holds.
        attempts: Plans tried when concurrent holds take the units planned on.
    """

    def __init__(
        self, model: AvailabilityReadModel, reservations: Reservations, *, attempts: int = _ATTEMPTS
    ) -> None:
        self.model = model
        self.reservations = reservations
        self.attempts = attempts

    async def available(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        """Available-to-promise per SKU over every location (None: no source reported it).

        Raises:
            RetryableError: The event log cannot be read now.
        """
        return await self.model.available(skus)

    def _capacity(
        self, sku: str, channel: str, own: Mapping[tuple[str, str], int]
    ) -> list[tuple[str, int]]:
        """What each location of `sku` can promise to the order holding `own`."""
        found: list[tuple[str, int]] = []
        for location in self.model.locations(sku):
            answer = self.model.lookup(sku, location, channel)
            if answer is None:
                continue
            mine = own.get((sku, location), 0)
            others = max(0, answer.reserved - mine)
            units = answer.source_available - answer.safety_stock - answer.channel_buffer - others
            found.append((location, max(0, units)))
        found.sort(key=lambda pair: (-pair[1], pair[0]))
        return found

    def _plan(
        self, wanted: Mapping[str, int], channel: str, own: Mapping[tuple[str, str], int]
    ) -> tuple[list[Line], dict[str, int | None]]:
        """The lines to hold, and what each SKU can promise to this order (None: unknown)."""
        lines: list[Line] = []
        promisable: dict[str, int | None] = {}
        for sku, units in sorted(wanted.items()):
            if not self.model.locations(sku):
                promisable[sku] = None
                continue
            capacity = self._capacity(sku, channel, own)
            promisable[sku] = sum(n for _, n in capacity)
            left = units
            for location, can in capacity:
                if left <= 0:
                    break
                take = min(can, left)
                if take > 0:
                    lines.append(Line(sku, location, take))
                    left -= take
        return lines, promisable

    async def reserve(
        self, order_id: str, wanted: Mapping[str, int], *, channel: str = DEFAULT_CHANNEL
    ) -> Mapping[str, int | None]:
        """Hold `wanted` units per SKU for `order_id`, all or none (`StockReservations`).

        Returns per SKU at least the wanted units when held; otherwise what this order could
        be promised (nothing is held then, an earlier hold of the order included), and None
        for a SKU no source has reported.

        Raises:
            RetryableError: The store cannot answer now, or holds stayed contended.
        """
        asked = {sku: int(n) for sku, n in wanted.items() if int(n) > 0}
        channel = channel or DEFAULT_CHANNEL
        try:
            await self.model.catch_up()
            for _ in range(self.attempts):
                own = await self.reservations.held(order_id)
                lines, promisable = self._plan(asked, channel, own)
                if any(found is None or found < asked[sku] for sku, found in promisable.items()):
                    await self.reservations.release(order_id)
                    return promisable
                if not lines:
                    await self.reservations.release(order_id)
                    return dict(asked)
                try:
                    result = await self.reservations.reserve(
                        order_id, lines, channel=channel, replace=True
                    )
                except UnknownStock:
                    continue  # a level vanished under the plan (a reload): plan again
                if result.accepted:
                    return dict(asked)
            raise RetryableError(
                f"availability: the units planned for {order_id} kept being taken; try again"
            )
        except (StoreUnavailable, StaleFlowState) as exc:
            raise RetryableError(f"availability: reservation of {order_id} failed: {exc}") from exc

    async def release(self, order_id: str) -> None:
        """End every hold of `order_id` (idempotent).

        Raises:
            RetryableError: The store cannot answer now.
        """
        try:
            await self.reservations.release(order_id)
        except (StoreUnavailable, StaleFlowState) as exc:
            raise RetryableError(f"availability: release of {order_id} failed: {exc}") from exc
