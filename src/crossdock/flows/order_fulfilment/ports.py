"""The ports the order flow reads through: stock availability (never a synchronous ERP call).

Two ports:

- `AvailabilityLookup`: available-to-promise units per SKU (the availability cache).
- `StockReservations`: an availability cache that can also hold units for an order atomically.
  When the flow's availability implements it, the flow reserves an order's units while it
  validates the order (the answer it decides on is the reservation's), and its decisions ask
  for the hold to end with a `RESERVATION_RELEASE` command to `RESERVATIONS_DESTINATION`
  (performed by the hub's worker pool, so a release happens exactly once, after the decision
  that asked for it is committed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Protocol, runtime_checkable

__all__ = [
    "RESERVATIONS_DESTINATION",
    "RESERVATION_RELEASE",
    "AvailabilityLookup",
    "StaticAvailability",
    "StockReservations",
]

RESERVATIONS_DESTINATION: Final = "availability"
"""The outbox destination of reservation commands (the hub's availability, not a system)."""

RESERVATION_RELEASE: Final = "reservation.release"
"""Command kind: end the hold of an order. Payload: ``order_id``, ``reason`` (``committed``:
the ERP has the order, so its own figures will carry it; ``cancelled``, ``quarantined``,
``shipped``, ...), ``instance``. A ``committed`` release may be deferred by the availability
until the ERP's reported level is newer than the release (no window in which the units count
twice or not at all)."""


@runtime_checkable
class AvailabilityLookup(Protocol):
    """Available-to-promise units per SKU, from the availability cache."""

    async def available(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        """Return available units of each SKU; None for a SKU the hub does not know.

        Raises:
            crossdock.runtime.errors.RetryableError: The cache cannot answer now (the flow
                step is retried, never decided on a guess).
        """
        ...


@runtime_checkable
class StockReservations(AvailabilityLookup, Protocol):
    """An availability cache that also holds units for orders, atomically."""

    async def reserve(
        self, order_id: str, wanted: Mapping[str, int], *, channel: str
    ) -> Mapping[str, int | None]:
        """Hold `wanted` units per SKU for `order_id`: all of them, or none.

        Idempotent per order: a second call replaces what the order holds (an edited order
        holds its new quantities, once). Returns, per SKU, the units the order may count on:
        at least the wanted units for every SKU when the hold succeeded; when it did not,
        what was promisable to this order (so ``wanted - answer`` is the shortfall) and
        nothing is held; None for a SKU no source has reported.

        Raises:
            crossdock.runtime.errors.RetryableError: The cache or its store cannot answer now.
        """
        ...

    async def release(self, order_id: str) -> None:
        """End every hold of `order_id` at once (idempotent)."""
        ...


class StaticAvailability:
    """An in-memory availability lookup (tests, the demo's fixed catalogue).

    Args:
        levels: Available units per known SKU.
    """

    def __init__(self, levels: Mapping[str, int] | None = None) -> None:
        self.levels: dict[str, int] = dict(levels or {})

    async def available(self, skus: Sequence[str]) -> Mapping[str, int | None]:
        """Return the level of each SKU (None when unknown)."""
        return {sku: self.levels.get(sku) for sku in skus}
