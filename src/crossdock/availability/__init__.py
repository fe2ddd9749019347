"""Inventory availability: the available-to-promise read model, reservations, freshness.

`AvailabilityReadModel` follows the event log's ``inventory.changed`` events into an in-memory
cache (versioned by source time and log position, checkpointed in the store) and answers
lookups with their age and a stale flag. `Reservations` holds units for orders atomically
against it, durably in the store. `ReservingAvailability` is the order flow's
`StockReservations` port over both (it chooses the locations of a hold); `DeferredReleases`
performs the flow's ``reservation.release`` commands (a ``committed`` one once the ERP's level
after it was read). `ChannelSync` pushes changes to a sales channel as coalesced
``inventory.set`` commands and measures the freshness service level. `BackorderWatcher`
appends ``order.stock_check`` when stock arrives for a backordered order.
"""

from crossdock.availability.backorders import STOCK_CHECK, BackorderWatcher
from crossdock.availability.config import DEFAULT_DOMAIN, settings_from_governance
from crossdock.availability.model import (
    DEFAULT_CHANNEL,
    Availability,
    AvailabilitySettings,
    Level,
    SourceFreshness,
    location_key,
)
from crossdock.availability.promise import ReservingAvailability
from crossdock.availability.readmodel import (
    SNAPSHOT_FLOW,
    AvailabilityReadModel,
    BreakerLike,
    ChangeListener,
)
from crossdock.availability.releases import DeferredReleases
from crossdock.availability.reservations import (
    Line,
    ReservationResult,
    Reservations,
    UnknownStock,
)
from crossdock.availability.sync import (
    ChannelSync,
    ChannelTarget,
    FreshnessReport,
    FreshnessSLO,
    SyncCounts,
)

__all__ = [
    "DEFAULT_CHANNEL",
    "DEFAULT_DOMAIN",
    "SNAPSHOT_FLOW",
    "STOCK_CHECK",
    "Availability",
    "AvailabilityReadModel",
    "AvailabilitySettings",
    "BackorderWatcher",
    "BreakerLike",
    "ChangeListener",
    "ChannelSync",
    "ChannelTarget",
    "DeferredReleases",
    "FreshnessReport",
    "FreshnessSLO",
    "Level",
    "Line",
    "ReservationResult",
    "Reservations",
    "ReservingAvailability",
    "SourceFreshness",
    "SyncCounts",
    "UnknownStock",
    "location_key",
    "settings_from_governance",
]
