"""The availability read model's values: settings, per-source freshness and one answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "Availability",
    "AvailabilitySettings",
    "Level",
    "SourceFreshness",
    "Version",
    "location_key",
]

Version = tuple[datetime, int]
"""An update's version: the source's own timestamp, then the event's log position."""

DEFAULT_CHANNEL = "default"


def location_key(sku: str, location: str) -> str:
    """Return the key of one SKU at one location (``sku@location``), as events use it."""
    return f"{sku}@{location}"


@dataclass(frozen=True, slots=True)
class AvailabilitySettings:
    """What the read model needs beyond the event log.

    The governance file has no keys yet for safety stock or channel buffers, so they are
    constructor settings here; the latency target comes from ``[domains.<name>]``.

    Attributes:
        latency_target: Data older than this is served with ``stale: true``.
        safety_stock: Units kept back per SKU (key ``"*"``: every SKU without its own entry).
        channel_buffers: Units kept back per sales channel (key ``"*"``: every other channel).
        ignored_sources: Sources whose ``inventory.changed`` events are echoes of what the hub
            itself pushed (sales channels such as ``shopify``), never an input. A source
            ``name:detail`` (Shopify's ``shopify:<shop domain>``) is ignored when ``name`` is.
        erp_sources: Sources counted as the ERP in the per-source freshness (informational).
    """

    latency_target: timedelta = timedelta(seconds=60)
    safety_stock: Mapping[str, int] = field(default_factory=dict)
    channel_buffers: Mapping[str, int] = field(default_factory=dict)
    ignored_sources: frozenset[str] = frozenset()
    erp_sources: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.latency_target <= timedelta(0):
            raise ValueError("latency_target must be positive")
        for name, mapping in (
            ("safety_stock", self.safety_stock),
            ("channel_buffers", self.channel_buffers),
        ):
            negative = sorted(k for k, v in mapping.items() if v < 0)
            if negative:
                raise ValueError(f"{name} must not be negative: {', '.join(negative)}")

    def ignores(self, source: str) -> bool:
        """Whether levels reported by `source` are echoes, never an input."""
        return source in self.ignored_sources or source.partition(":")[0] in self.ignored_sources

    def safety_for(self, sku: str) -> int:
        """Return the safety stock of `sku`."""
        return self.safety_stock.get(sku, self.safety_stock.get("*", 0))

    def buffer_for(self, channel: str) -> int:
        """Return the buffer of `channel`."""
        return self.channel_buffers.get(channel, self.channel_buffers.get("*", 0))


@dataclass(frozen=True, slots=True)
class Level:
    """The newest stock level of one SKU at one location, whichever source reported it.

    Attributes:
        on_hand: Units physically there (None when the source does not say).
        available: Units the source says can be sold (its own commitments deducted).
        as_of: When the source observed them.
        source: The source that reported them.
        position: The event's log position (the version's tie-breaker).
    """

    on_hand: int | None
    available: int
    as_of: datetime
    source: str
    position: int

    @property
    def version(self) -> Version:
        """The version that decides which of two updates is newer."""
        return (self.as_of, self.position)


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    """How fresh one source's view of a SKU at a location is.

    Attributes:
        as_of: The source's newest observation.
        age_seconds: Seconds between that observation and the answer's time.
    """

    as_of: datetime
    age_seconds: float


@dataclass(frozen=True, slots=True)
class Availability:
    """One answer: the available-to-promise of a SKU at a location for a channel.

    Attributes:
        sku: The SKU.
        location: The location code.
        channel: The channel the buffer was taken for.
        on_hand: Units physically there (None when no source said).
        source_available: Units the newest source says can be sold.
        reserved: Units the hub holds for accepted orders not yet in the ERP or shipped.
        safety_stock: Units kept back for the SKU.
        channel_buffer: Units kept back for the channel.
        available_to_promise: What can still be promised (never below zero).
        as_of: When the newest source observed the level.
        age_seconds: Seconds since then.
        stale: True when the data is older than the latency target or the ERP is down.
        sources: The freshness of each source that reported this SKU at this location.
    """

    sku: str
    location: str
    channel: str
    on_hand: int | None
    source_available: int
    reserved: int
    safety_stock: int
    channel_buffer: int
    available_to_promise: int
    as_of: datetime
    age_seconds: float
    stale: bool
    sources: Mapping[str, SourceFreshness]

    def to_json(self) -> dict[str, object]:
        """Return the JSON form the API serves."""
        return {
            "sku": self.sku,
            "location": self.location,
            "channel": self.channel,
            "available_to_promise": self.available_to_promise,
            "on_hand": self.on_hand,
            "source_available": self.source_available,
            "reserved": self.reserved,
            "safety_stock": self.safety_stock,
            "channel_buffer": self.channel_buffer,
            "as_of": self.as_of.isoformat(),
            "age_seconds": round(self.age_seconds, 3),
            "stale": self.stale,
            "sources": {
                name: {"as_of": f.as_of.isoformat(), "age_seconds": round(f.age_seconds, 3)}
                for name, f in self.sources.items()
            },
        }
