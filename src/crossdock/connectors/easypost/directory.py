"""Which hub shipment a tracker belongs to: a port, with an in-memory implementation.

An EasyPost tracker knows its carrier and tracking code but not the order it ships. The hub
knows that from the shipment event that carried the tracking number (ShipStation, a 945), and
keeps it in its links; the decoder asks this port. A tracker the hub does not know is a
decode error: the delivery stays stored, is dead-lettered with that reason, and can be replayed
once the link exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from crossdock.canonical.refs import OrderRef

__all__ = ["InMemoryShipmentDirectory", "ShipmentDirectory", "ShipmentRef"]


@dataclass(frozen=True, slots=True)
class ShipmentRef:
    """The hub shipment a tracker follows.

    Attributes:
        order: The order the shipment belongs to.
        shipment_id: The shipment's hub id, when the hub has assigned it.
    """

    order: OrderRef
    shipment_id: str | None = None


@runtime_checkable
class ShipmentDirectory(Protocol):
    """Finds the hub shipment of a carrier's tracking code."""

    async def find(self, carrier: str, tracking_code: str) -> ShipmentRef | None:
        """Return the shipment tracked by `tracking_code` at `carrier`, or None."""
        ...


def _key(carrier: str, tracking_code: str) -> tuple[str, str]:
    return carrier.strip().lower(), tracking_code.strip()


class InMemoryShipmentDirectory:
    """A `ShipmentDirectory` held in a dict (tests, the demo, a single process).

    Keys are carrier (case-insensitive) and tracking code: carriers recycle codes, so a code
    alone is not a key.
    """

    def __init__(self) -> None:
        self._refs: dict[tuple[str, str], ShipmentRef] = {}

    def add(self, carrier: str, tracking_code: str, ref: ShipmentRef) -> None:
        """Record that `tracking_code` at `carrier` tracks `ref`."""
        self._refs[_key(carrier, tracking_code)] = ref

    async def find(self, carrier: str, tracking_code: str) -> ShipmentRef | None:
        """Return the shipment recorded for this carrier and code, or None."""
        return self._refs.get(_key(carrier, tracking_code))
