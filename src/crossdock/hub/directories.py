"""The EasyPost connector's shipment directory, read from the hub's links.

When the order flow first sees a shipment with a tracking number (a ShipStation label, a 945),
it links the order to it: system ``tracking:<carrier, lower case>:<code>``, external id the
code, canonical id the order's hub id. `StoreShipmentDirectory` answers the EasyPost decoder
from those links, so a tracker webhook lands on its order.

Carrier names differ between systems: the hub writes the warehouse's name (``UPS``, ``FedEx``,
``USPS``, ``DHL Express``) while EasyPost writes its own (``UPS``, ``FedEx``, ``USPS``,
``DHLExpress``). A tracker's carrier is compared case-insensitively and, failing that, with
spaces and punctuation ignored against the carrier names the hub's shipment decoders produce.

A tracker that arrives before its link (EasyPost can be faster than the flow) is not lost:
`find` raises `TrackerNotLinkedError`, a `RetryableError`, and the decode worker tries the
delivery again when its claim lapses. Only when a tracker is still unlinked ``give_up_after``
seconds after this process first missed it does `find` answer None, which the connector turns
into a permanent dead letter (replayable once the link exists).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final, Protocol

from crossdock.canonical.refs import OrderRef
from crossdock.connectors.easypost import ShipmentRef
from crossdock.connectors.edi.maps import CARRIERS_BY_SCAC
from crossdock.connectors.shipstation.shipments import CARRIER_NAMES
from crossdock.flows.order_fulfilment.decide import tracking_link
from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.errors import RetryableError

__all__ = [
    "DEFAULT_GIVE_UP_AFTER",
    "HUB_CARRIER_NAMES",
    "LinkLookup",
    "StoreShipmentDirectory",
    "TrackerNotLinkedError",
    "carrier_spellings",
]

DEFAULT_GIVE_UP_AFTER: Final = 900.0
"""Seconds an unlinked tracker is retried before it is dead-lettered (15 minutes)."""

_MAX_PENDING: Final = 10_000

HUB_CARRIER_NAMES: Final[frozenset[str]] = frozenset(
    {*CARRIER_NAMES.values(), *CARRIERS_BY_SCAC.values()}
)
"""The carrier names the hub's shipment decoders write (and so its tracking links use)."""


class LinkLookup(Protocol):
    """The part of the store the directory reads (`crossdock.backbone.store.Store` has it)."""

    async def canonical_id(self, system: str, external_id: str) -> str | None:
        """Return the canonical id of one system's id."""
        ...


class TrackerNotLinkedError(RetryableError):
    """No order is linked to the tracker yet; the delivery is tried again later."""


def _compact(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def carrier_spellings(carrier: str, known: Iterable[str] = HUB_CARRIER_NAMES) -> list[str]:
    """The lower-case carrier names a tracking link for `carrier` may have been written with.

    The tracker's own name comes first, then each hub name equal to it once case, spaces and
    punctuation are ignored (``DHLExpress`` -> ``dhl express``).
    """
    first = carrier.strip().lower()
    wanted = _compact(carrier)
    others = sorted({k.lower() for k in known if _compact(k) == wanted} - {first})
    return [first, *others]


class StoreShipmentDirectory:
    """A `ShipmentDirectory` reading the order flow's tracking links from the store.

    Args:
        store: Where the links are (the hub's store).
        clock: Measures how long a tracker has gone unlinked (default: the system clock).
        give_up_after: Seconds after the first miss before `find` answers None (a dead letter)
            instead of raising `TrackerNotLinkedError`; 0 dead-letters at once.
    """

    def __init__(
        self,
        store: LinkLookup,
        *,
        clock: Clock | None = None,
        give_up_after: float = DEFAULT_GIVE_UP_AFTER,
    ) -> None:
        if give_up_after < 0:
            raise ValueError("give_up_after must be >= 0")
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.give_up_after = give_up_after
        # First miss of each unlinked tracker (monotonic seconds), oldest first, bounded.
        self._first_miss: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def find(self, carrier: str, tracking_code: str) -> ShipmentRef | None:
        """Return the order shipped under this tracking code at this carrier.

        Raises:
            TrackerNotLinkedError: No link yet, and the tracker has not waited `give_up_after`.
        """
        code = tracking_code.strip()
        for spelling in carrier_spellings(carrier):
            order_id = await self.store.canonical_id(tracking_link(spelling, code), code)
            if order_id is not None:
                self._first_miss.pop((carrier.strip().lower(), code), None)
                return ShipmentRef(order=OrderRef(id=order_id))
        self._missed(carrier.strip().lower(), code)
        return None

    def _missed(self, carrier: str, code: str) -> None:
        """Raise `TrackerNotLinkedError`, unless the tracker has waited long enough."""
        key = (carrier, code)
        now = self.clock.monotonic()
        first = self._first_miss.setdefault(key, now)
        if now - first >= self.give_up_after:
            self._first_miss.pop(key, None)
            return
        while len(self._first_miss) > _MAX_PENDING:
            self._first_miss.popitem(last=False)
        raise TrackerNotLinkedError(
            f"no hub shipment is linked to {carrier} tracking code {code!r} yet; retrying"
        )
