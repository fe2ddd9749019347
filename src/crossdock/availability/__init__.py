"""Inventory availability: the available-to-promise read model, reservations, freshness.

`AvailabilityReadModel` follows the event log's ``inventory.changed`` events into an in-memory
cache (versioned by source time and log position, checkpointed in the store) and answers
lookups with their age and a stale flag. `Reservations` holds units for orders atomically
against it, durably in the store. The read model is also the order flow's `AvailabilityLookup`.
`ChannelSync` pushes changes to a sales channel as coalesced ``inventory.set`` commands and
measures the freshness service level.
"""

from crossdock.availability.config import DEFAULT_DOMAIN, settings_from_governance
from crossdock.availability.model import (
    DEFAULT_CHANNEL,
    Availability,
    AvailabilitySettings,
    Level,
    SourceFreshness,
    location_key,
)
from crossdock.availability.readmodel import (
    SNAPSHOT_FLOW,
    AvailabilityReadModel,
    BreakerLike,
    ChangeListener,
)
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
    "Availability",
    "AvailabilityReadModel",
    "AvailabilitySettings",
    "BreakerLike",
    "ChangeListener",
    "ChannelSync",
    "ChannelTarget",
    "FreshnessReport",
    "FreshnessSLO",
    "Level",
    "Line",
    "ReservationResult",
    "Reservations",
    "SourceFreshness",
    "SyncCounts",
    "UnknownStock",
    "location_key",
    "settings_from_governance",
]
