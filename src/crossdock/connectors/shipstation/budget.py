"""ShipStation's rate budget: 40 requests per minute per API key pair, from X-Rate-Limit-*."""

from __future__ import annotations

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import WindowBudget

__all__ = ["DEFAULT_LIMIT", "DEFAULT_WINDOW_S", "shipstation_budget"]

DEFAULT_LIMIT = 40
DEFAULT_WINDOW_S = 60.0


def shipstation_budget(
    name: str = "shipstation",
    *,
    limit: int = DEFAULT_LIMIT,
    window: float = DEFAULT_WINDOW_S,
    headroom: int = 0,
    clock: Clock | None = None,
) -> WindowBudget:
    """A requests-per-window budget that follows ``X-Rate-Limit-Limit/-Remaining/-Reset``.

    Share one per key pair: every client of the pair draws on the same quota. The budget adopts
    the limit ShipStation reports and, when ``X-Rate-Limit-Remaining`` reaches ``headroom``,
    waits ``X-Rate-Limit-Reset`` seconds before the next call instead of earning a 429.

    Args:
        name: The destination.
        limit: Requests per window (ShipStation: 40).
        window: The window in seconds (ShipStation: 60).
        headroom: Requests per window left for other clients of the same key pair.
        clock: The clock.
    """
    return WindowBudget(name, limit=limit, window=window, headroom=headroom, clock=clock)
