"""The rate-budget port and the machinery every budget shares.

A budget is one object per destination, shared by every worker of a process. A caller takes a
`Permit` before each call (waiting as long as the budget says) and gives it back with the
`Feedback` of the response, so the budget can adapt to what the system reports.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.resilience._headers import header, parse_retry_after

_permit_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call, taken from a budget and given back with `release`.

    Attributes:
        cost: What the call was charged (1 for request counts, query cost for cost buckets).
        granted_at: The budget clock's monotonic time when it was granted.
        id: Unique per permit.
    """

    cost: float
    granted_at: float
    id: int = field(default_factory=lambda: next(_permit_ids))


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a call's outcome tells the budget.

    Attributes:
        status: The HTTP status, or None when no response arrived.
        headers: Response headers (matched case-insensitively).
        body: The decoded JSON body when a budget needs it (a GraphQL cost), else None.
        sent: False when the request certainly never reached the server (it cost nothing).
    """

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    sent: bool = True

    @classmethod
    def not_sent(cls) -> Feedback:
        """Feedback for a request that never left (connect error)."""
        return cls(sent=False)


@runtime_checkable
class RateBudget(Protocol):
    """A destination's rate budget, shared by all the workers of a process."""

    name: str

    async def acquire(self, cost: float = 1.0) -> Permit:
        """Wait until the budget allows a call of `cost`, then take it."""
        ...

    def release(self, permit: Permit, feedback: Feedback) -> None:
        """Give `permit` back with what the response reported."""
        ...

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until a call of `cost` would be allowed (0 now; `math.inf` until a release)."""
        ...


class BudgetBase:
    """The waiting, fairness and Retry-After handling shared by every budget.

    Waiters queue in arrival order; only the head waits on the clock (or for a release).
    A 429 response pauses the whole budget for its Retry-After.

    Subclasses implement `_wait_for(cost)`, `_take(cost)` and `_observe(permit, feedback)`.
    """

    wants_body: ClassVar[bool] = False
    """Whether `release` needs the decoded JSON body in its feedback (a cost bucket does)."""

    def __init__(self, name: str, *, clock: Clock | None = None) -> None:
        self.name = name
        self.clock: Clock = clock or SystemClock()
        self._queue = asyncio.Lock()
        self._changed = asyncio.Event()
        self._paused_until = -math.inf
        self.granted = 0
        self.throttled = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _check_cost(self, cost: float) -> None:
        if not (cost >= 0 and math.isfinite(cost)):
            raise ValueError(f"a call's cost must be a finite number >= 0, not {cost!r}")

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until a call of `cost` would be allowed (0 now; `math.inf` until a release)."""
        self._check_cost(cost)
        paused = self._paused_until - self.clock.monotonic()
        return max(paused, self._wait_for(cost), 0.0)

    async def acquire(self, cost: float = 1.0) -> Permit:
        """Wait (in arrival order) until a call of `cost` is allowed, then take it."""
        self._check_cost(cost)
        async with self._queue:
            while (wait := self.wait_time(cost)) > 0:
                await self._wait(wait)
            self._take(cost)
            self.granted += 1
            return Permit(cost=cost, granted_at=self.clock.monotonic())

    def release(self, permit: Permit, feedback: Feedback) -> None:
        """Give `permit` back; adapt to `feedback`, and pause for a 429's Retry-After."""
        if feedback.status == 429:
            self.throttled += 1
            delay = parse_retry_after(header(feedback.headers, "Retry-After"), self.clock.now())
            if delay is not None:
                until = self.clock.monotonic() + delay
                self._paused_until = max(self._paused_until, until)
        self._observe(permit, feedback)
        self._changed.set()

    async def _wait(self, seconds: float) -> None:
        self._changed.clear()
        changed = asyncio.ensure_future(self._changed.wait())
        if math.isinf(seconds):
            await changed
            return
        # The timer task starts on a later turn of the loop, when the clock may have moved on:
        # fix the deadline now so a late start does not push the wake-up back.
        deadline = self.clock.monotonic() + seconds
        timer = asyncio.ensure_future(self._sleep_until(deadline))
        try:
            await asyncio.wait({changed, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            timer.cancel()

    async def _sleep_until(self, deadline: float) -> None:
        await self.clock.sleep(deadline - self.clock.monotonic())

    def _wait_for(self, cost: float) -> float:
        raise NotImplementedError

    def _take(self, cost: float) -> None:
        raise NotImplementedError

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        raise NotImplementedError


class Unlimited(BudgetBase):
    """A budget that never waits (a destination with no quota, or tests)."""

    def _wait_for(self, cost: float) -> float:
        return 0.0

    def _take(self, cost: float) -> None:
        return None

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        return None
