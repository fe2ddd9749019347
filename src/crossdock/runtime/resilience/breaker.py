"""A circuit breaker per destination, its state in a store every worker and the console share.

Closed: calls go through; failures are counted (consecutive, or a rate within a window).
Open: calls are refused with the time left until a probe is allowed. Half-open: exactly one
probe call at a time, across every worker that shares the store; its success closes the
breaker, its failure opens it again. A probe that never reports (its worker died) frees its
place when its lease ends. State changes go through compare-and-set on the store, so the
design (after purgatory's) holds across processes once the store is shared.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from crossdock.canonical.ids import new_id
from crossdock.runtime.clock import Clock, SystemClock


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds, usually read from `crossdock.toml`.

    Attributes:
        failure_threshold: Consecutive failures that open the breaker.
        failure_rate: Also open when failures / calls within `window` reach this (0..1);
            None to use the consecutive count only.
        window: Seconds over which the failure rate is measured.
        min_calls: Calls in the window before the rate is considered.
        open_seconds: How long the breaker stays open before a probe is allowed.
        probe_lease: Seconds after which a probe that never reported is given up.
    """

    failure_threshold: int = 5
    failure_rate: float | None = None
    window: float = 60.0
    min_calls: int = 20
    open_seconds: float = 30.0
    probe_lease: float = 60.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.open_seconds <= 0 or self.probe_lease <= 0:
            raise ValueError("failure_threshold >= 1, open_seconds > 0, probe_lease > 0")
        if self.failure_rate is not None and not 0 < self.failure_rate <= 1:
            raise ValueError("failure_rate must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A breaker's shared state. Times are wall-clock epoch seconds (valid across processes).

    Attributes:
        state: Closed, open or half-open.
        consecutive_failures: Failures since the last success.
        window_start: Start of the current failure-rate window.
        window_calls: Calls finished in that window.
        window_failures: Failures in that window.
        opened_at: When the breaker last opened.
        probe_id: The ticket of the probe in flight, if any.
        probe_until: When that probe's lease ends.
        version: Bumped by every write (compare-and-set).
    """

    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    window_start: float = 0.0
    window_calls: int = 0
    window_failures: int = 0
    opened_at: float | None = None
    probe_id: str | None = None
    probe_until: float | None = None
    version: int = 0


class BreakerStateStore(Protocol):
    """Where breaker records live; shared by every worker and read by the console."""

    async def load(self, name: str) -> BreakerRecord:
        """Return the record of breaker `name` (a fresh closed one when unknown)."""
        ...

    async def save(self, name: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Store `record` (its version already bumped) if the stored version is still
        `expected_version`; return whether it was stored."""
        ...

    async def names(self) -> list[str]:
        """Return the names of every breaker with a stored record."""
        ...


class InMemoryBreakerStateStore:
    """A `BreakerStateStore` for one process (shared by all its workers)."""

    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    async def load(self, name: str) -> BreakerRecord:
        """Return the record of `name`."""
        return self._records.get(name, BreakerRecord())

    async def save(self, name: str, record: BreakerRecord, *, expected_version: int) -> bool:
        """Compare-and-set the record of `name`."""
        if self._records.get(name, BreakerRecord()).version != expected_version:
            return False
        self._records[name] = record
        return True

    async def names(self) -> list[str]:
        """Return every known breaker name."""
        return sorted(self._records)


class BreakerHooks:
    """Metrics hooks with no-op defaults; subclass and override what you need."""

    def on_state_change(self, name: str, old: BreakerState, new: BreakerState) -> None:
        """Called after the breaker moved from `old` to `new`."""

    def on_rejected(self, name: str, state: BreakerState, retry_after: float) -> None:
        """Called when a call was refused."""


class BreakerOpenError(Exception):
    """The breaker refused the call; try again after `retry_after` seconds.

    Attributes:
        name: The breaker (destination).
        state: Open, or half-open with a probe in flight.
        retry_after: Seconds until a call may be allowed.
    """

    def __init__(self, name: str, state: BreakerState, retry_after: float) -> None:
        super().__init__(f"circuit {name!r} is {state.value}; retry in {retry_after:.1f} s")
        self.name = name
        self.state = state
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Ticket:
    """Leave to make one call; hand it back with `record_success` or `record_failure`."""

    id: str
    probe: bool


class CircuitBreaker:
    """The breaker of one destination.

    Usage::

        ticket = await breaker.before_call()  # raises BreakerOpenError
        ... make the call ...
        await breaker.record_success(ticket)  # or record_failure(ticket)

    Args:
        name: The destination, e.g. ``netsuite:1234567``.
        store: Where the state lives (`InMemoryBreakerStateStore` for one process).
        config: Thresholds.
        clock: The clock (wall time is what the store keeps).
        hooks: Metrics hooks.
    """

    def __init__(
        self,
        name: str,
        *,
        store: BreakerStateStore | None = None,
        config: BreakerConfig | None = None,
        clock: Clock | None = None,
        hooks: BreakerHooks | None = None,
    ) -> None:
        self.name = name
        self.store: BreakerStateStore = store or InMemoryBreakerStateStore()
        self.config = config or BreakerConfig()
        self.clock: Clock = clock or SystemClock()
        self.hooks = hooks or BreakerHooks()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r})"

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def state(self) -> BreakerState:
        """Return the current state as the store holds it."""
        return (await self.store.load(self.name)).state

    async def before_call(self) -> Ticket:
        """Return a ticket for one call, or raise `BreakerOpenError`.

        In half-open only one caller (across all workers sharing the store) gets a probe
        ticket; the others are refused until the probe reports or its lease ends.
        """
        while True:
            record = await self.store.load(self.name)
            now = self._now()
            if record.state is BreakerState.CLOSED:
                return Ticket(id="", probe=False)
            wait = self._wait(record, now)
            if wait > 0:
                self.hooks.on_rejected(self.name, record.state, wait)
                raise BreakerOpenError(self.name, record.state, wait)
            ticket = Ticket(id=new_id(), probe=True)
            probing = replace(
                record,
                state=BreakerState.HALF_OPEN,
                probe_id=ticket.id,
                probe_until=now + self.config.probe_lease,
            )
            if await self._write(record, probing):
                return ticket

    def _wait(self, record: BreakerRecord, now: float) -> float:
        if record.state is BreakerState.OPEN:
            return (record.opened_at or now) + self.config.open_seconds - now
        if record.probe_until is not None:  # half-open with a probe out
            return min(record.probe_until - now, self.config.open_seconds)
        return 0.0

    async def record_success(self, ticket: Ticket) -> None:
        """Report that the call of `ticket` succeeded (the destination is healthy)."""
        while True:
            record = await self.store.load(self.name)
            if ticket.probe:
                if record.probe_id != ticket.id:
                    return  # a stale probe: its lease ended and another took over
                new = BreakerRecord(window_start=self._now(), version=record.version)
            elif record.state is BreakerState.CLOSED:
                new = self._count(record, failed=False)
                if new == record:
                    return
            else:
                return  # began before the breaker opened; the probe decides now
            if await self._write(record, new):
                return

    async def release(self, ticket: Ticket) -> None:
        """Hand back a ticket whose call was never made (cancelled, or refused by the rate
        budget): a probe's place goes to the next caller, with no verdict."""
        if not ticket.probe:
            return
        while True:
            record = await self.store.load(self.name)
            if record.probe_id != ticket.id:
                return
            if await self._write(record, replace(record, probe_id=None, probe_until=None)):
                return

    async def record_failure(self, ticket: Ticket) -> None:
        """Report that the call of `ticket` failed in a way that says the destination is unwell."""
        while True:
            record = await self.store.load(self.name)
            now = self._now()
            if ticket.probe:
                if record.probe_id != ticket.id:
                    return
                new = self._opened(record, now)
            elif record.state is BreakerState.CLOSED:
                new = self._count(record, failed=True)
                if self._should_open(new):
                    new = self._opened(new, now)
            else:
                return
            if await self._write(record, new):
                return

    def _count(self, record: BreakerRecord, *, failed: bool) -> BreakerRecord:
        now = self._now()
        if now - record.window_start >= self.config.window:
            record = replace(record, window_start=now, window_calls=0, window_failures=0)
        if not failed and record.consecutive_failures == 0 and self.config.failure_rate is None:
            return record  # nothing worth a write
        return replace(
            record,
            consecutive_failures=record.consecutive_failures + 1 if failed else 0,
            window_calls=record.window_calls + 1,
            window_failures=record.window_failures + (1 if failed else 0),
        )

    def _should_open(self, record: BreakerRecord) -> bool:
        if record.consecutive_failures >= self.config.failure_threshold:
            return True
        rate = self.config.failure_rate
        return (
            rate is not None
            and record.window_calls >= self.config.min_calls
            and record.window_failures / record.window_calls >= rate
        )

    def _opened(self, record: BreakerRecord, now: float) -> BreakerRecord:
        return BreakerRecord(
            state=BreakerState.OPEN, opened_at=now, window_start=now, version=record.version
        )

    async def _write(self, old: BreakerRecord, new: BreakerRecord) -> bool:
        stored = replace(new, version=old.version + 1)
        if not await self.store.save(self.name, stored, expected_version=old.version):
            await asyncio.sleep(0)
            return False
        if stored.state is not old.state:
            self.hooks.on_state_change(self.name, old.state, stored.state)
        return True
