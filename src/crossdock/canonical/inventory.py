"""The canonical inventory level (``inventory_level.v1``): stock of one SKU at one location."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from crossdock.canonical.base import CanonicalModel, HubId, NonEmptyStr, Timestamp

__all__ = ["InventoryLevel"]


class InventoryLevel(CanonicalModel):
    """How many units of a SKU a location has, as one source saw it at one instant.

    Sources do not all know every quantity (Shopify's webhook carries only `available`), so
    `on_hand` and `reserved` are optional; `available` may be negative (oversold).

    Attributes:
        location: the hub's location code (a warehouse, a store, a 3PL).
        on_hand: units physically there.
        reserved: units committed to orders not yet shipped.
        available: units that can still be sold.
        as_of: when the source observed these numbers (used to discard stale updates).
        source: the system that reported them, as named in crossdock.toml.
    """

    schema_version: Literal["inventory_level.v1"] = "inventory_level.v1"
    id: HubId | None = None
    sku: NonEmptyStr
    location: NonEmptyStr
    on_hand: int | None = None
    reserved: Annotated[int, Field(ge=0)] | None = None
    available: int
    as_of: Timestamp
    source: NonEmptyStr
