"""Breaker state kept in the backbone store, so every worker and the console see one state.

`StoreBreakerStateStore` adapts a `crossdock.backbone.Store` (SQLite or PostgreSQL) to the
`BreakerStateStore` protocol of `CircuitBreaker`: a load is one read of the ``breaker_state``
row, a save is one compare-and-set on its version. On PostgreSQL every process sharing the
database shares the state, so exactly one caller across all of them wins a half-open probe;
on SQLite (one hub process per file) every worker of the process does.

Usage::

    store = await open_store()
    breaker = CircuitBreaker("netsuite:1234567", store=StoreBreakerStateStore(store))
"""

from __future__ import annotations

from datetime import UTC, datetime

from crossdock.backbone.store import BreakerStatus, Store
from crossdock.runtime.resilience.breaker import BreakerRecord, BreakerState


def _dt(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def record_from_status(status: BreakerStatus) -> BreakerRecord:
    """Return the breaker's record as `CircuitBreaker` reasons about it."""
    return BreakerRecord(
        state=BreakerState(status.state),
        consecutive_failures=status.consecutive_failures,
        window_start=_ts(status.window_start) or 0.0,
        window_calls=status.window_calls,
        window_failures=status.window_failures,
        opened_at=_ts(status.opened_at),
        probe_id=status.probe_id,
        probe_until=_ts(status.probe_until),
        version=status.version,
    )


def status_from_record(name: str, record: BreakerRecord) -> BreakerStatus:
    """Return the store's row for breaker `name` holding `record`."""
    return BreakerStatus(
        destination=name,
        state=record.state.value,
        consecutive_failures=record.consecutive_failures,
        window_start=_dt(record.window_start),
        window_calls=record.window_calls,
        window_failures=record.window_failures,
        opened_at=_dt(record.opened_at),
        probe_id=record.probe_id,
        probe_until=_dt(record.probe_until),
        version=record.version,
    )


class StoreBreakerStateStore:
    """A `BreakerStateStore` on the backbone store's ``breaker_state`` table.

    Args:
        store: A started store (any `Store` implementation).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"StoreBreakerStateStore({type(self.store).__name__})"

    async def load(self, name: str) -> BreakerRecord:
        """Return the record of breaker `name` (a fresh closed one when unknown)."""
        status = await self.store.get_breaker(name)
        return BreakerRecord() if status is None else record_from_status(status)

    async def save(self, name: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Store `record` (its version already bumped) if the stored version is still
        `expected_version`; return whether it was stored."""
        status = status_from_record(name, record)
        return await self.store.save_breaker(status, expected_version=expected_version)

    async def names(self) -> list[str]:
        """Return the names of every breaker with a stored record."""
        return [status.destination for status in await self.store.list_breakers()]

    async def records(self) -> dict[str, BreakerRecord]:
        """Return every stored breaker's record by name (for the console and metrics)."""
        return {s.destination: record_from_status(s) for s in await self.store.list_breakers()}
