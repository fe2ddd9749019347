"""Build budgets and breaker settings from the `[systems.<name>]` tables of `crossdock.toml`."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience.breaker import BreakerConfig
from crossdock.runtime.resilience.budget import RateBudget
from crossdock.runtime.resilience.cost import CostBucket
from crossdock.runtime.resilience.leaky import LeakyBucket
from crossdock.runtime.resilience.slots import ConcurrencySlots
from crossdock.runtime.resilience.window import DailyAllocation, WindowBudget

if TYPE_CHECKING:
    from crossdock.runtime.resilience.postgres import PostgresResilience


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def budget_from_config(
    name: str,
    spec: Any,
    *,
    clock: Clock | None = None,
    shared: PostgresResilience | None = None,
) -> RateBudget:
    """Return the budget a rate-budget table declares.

    Args:
        name: The destination, e.g. ``shopify:acme:rest``.
        spec: A validated governance rate budget (its ``kind`` is ``leaky_bucket``, ``cost``,
            ``concurrency``, ``window`` or ``daily``).
        clock: The clock.
        shared: In the PostgreSQL mode, the connection through which every process shares
            leaky-bucket, window and daily budgets (cost and concurrency stay per process).

    Raises:
        ValueError: For an unknown kind.
    """
    kind = getattr(spec, "kind", None)
    if shared is not None and kind in {"leaky_bucket", "window", "daily"}:
        from crossdock.runtime.resilience import postgres  # lazily: it needs psycopg

        if kind == "leaky_bucket":
            return postgres.PostgresTokenBucket(
                name, shared, capacity=spec.capacity, refill_rate=spec.leak_per_second, clock=clock
            )
        window = 86_400.0 if kind == "daily" else _seconds(spec.window)
        return postgres.PostgresWindowBudget(
            name, shared, limit=spec.limit, window=window, clock=clock
        )
    if kind == "leaky_bucket":
        return LeakyBucket(
            name, capacity=spec.capacity, leak_rate=spec.leak_per_second, clock=clock
        )
    if kind == "cost":
        return CostBucket(
            name, maximum=spec.capacity, restore_rate=spec.restore_per_second, clock=clock
        )
    if kind == "concurrency":
        return ConcurrencySlots(name, limit=spec.max_in_flight, clock=clock)
    if kind == "window":
        return WindowBudget(name, limit=spec.limit, window=_seconds(spec.window), clock=clock)
    if kind == "daily":
        return DailyAllocation(name, limit=spec.limit, clock=clock)
    raise ValueError(f"unknown rate budget kind {kind!r}")


def breaker_config_from(spec: Any) -> BreakerConfig:
    """Return the `BreakerConfig` a governance breaker table declares
    (``failure_threshold`` and ``open_for``)."""
    return BreakerConfig(
        failure_threshold=int(spec.failure_threshold), open_seconds=_seconds(spec.open_for)
    )
