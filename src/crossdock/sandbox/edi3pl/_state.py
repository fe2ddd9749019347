"""The 3PL's memory: stock, orders as received and shipped, interchanges seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crossdock.sandbox.edi3pl._documents import Release

OUTCOMES = ("full", "partial", "short")


@dataclass
class ShipmentSent:
    """One 945 the 3PL sent."""

    file_name: str
    shipment_id: str
    tracking_number: str
    scac: str
    final: bool
    lines: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "file_name": self.file_name,
            "shipment_id": self.shipment_id,
            "tracking_number": self.tracking_number,
            "scac": self.scac,
            "final": self.final,
            "lines": self.lines,
        }


@dataclass
class OrderRecord:
    """Everything the 3PL did for one depositor order number.

    Attributes:
        release: The accepted 940.
        outcome: ``full``, ``partial`` or ``short`` (chosen under the seed, or forced).
        status: ``pending``, ``partially_shipped``, ``shipped`` or ``cancelled``.
        received_940s: 940 sets naming this order, duplicates included.
        duplicates_absorbed: Resent interchanges or repeated new-order 940s, not acted on.
        rejected_940s: 940 sets for this order that the 997 rejected.
        acks: Names of the 997 files that acknowledged its 940s.
        shipments: The 945s sent.
        remaining: Units still to ship per line reference.
        due: Monotonic time at which the next pick happens.
    """

    release: Release | None = None
    outcome: str = ""
    status: str = "pending"
    received_940s: int = 0
    duplicates_absorbed: int = 0
    rejected_940s: int = 0
    acks: list[str] = field(default_factory=list)
    shipments: list[ShipmentSent] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)
    due: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """JSON-ready view (served by the admin endpoint)."""
        return {
            "order_number": self.release.order_number if self.release else None,
            "outcome": self.outcome,
            "status": self.status,
            "received_940s": self.received_940s,
            "duplicates_absorbed": self.duplicates_absorbed,
            "rejected_940s": self.rejected_940s,
            "acks": list(self.acks),
            "shipments": [s.as_json() for s in self.shipments],
            "remaining": dict(self.remaining),
        }
