"""The ports the order flow reads through: stock availability (never a synchronous ERP call)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["AvailabilityLookup", "StaticAvailability"]


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
