"""Requests per window: ShipStation (40 per minute), Business Central (6,000 per 5 minutes),
and the Salesforce daily allocation (a rolling 24 hours)."""

from __future__ import annotations

import math
from collections import deque

from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience._headers import header
from crossdock.runtime.resilience.budget import BudgetBase, Feedback, Permit


class WindowBudget(BudgetBase):
    """At most `limit` calls in any window of `window` seconds, whatever the server's latency.

    A call occupies the budget from the moment it is granted until `window` seconds after its
    response arrives. The server counted the call at some instant between those two, so no
    window the server can draw (fixed or sliding) ever holds more than `limit` of our calls,
    while a backlog still uses the full rate less one round trip per window.

    When the server reports its own count (``X-Rate-Limit-Limit``, ``X-Rate-Limit-Remaining``,
    ``X-Rate-Limit-Reset`` seconds, as ShipStation sends), the budget adopts the limit, and
    when nothing remains it waits for the reset: other clients of the same key count too.

    Args:
        name: The destination.
        limit: Calls allowed per window.
        window: Window length in seconds.
        headroom: Calls per window left for other clients of the same quota.
        limit_header: Header carrying the server's limit (None to ignore).
        remaining_header: Header carrying what remains in the server's window.
        reset_header: Header carrying seconds until the server's window resets.
        clock: The clock.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        window: float,
        headroom: int = 0,
        limit_header: str | None = "X-Rate-Limit-Limit",
        remaining_header: str | None = "X-Rate-Limit-Remaining",
        reset_header: str | None = "X-Rate-Limit-Reset",
        clock: Clock | None = None,
    ) -> None:
        super().__init__(name, clock=clock)
        if limit < 1 or window <= 0 or not 0 <= headroom < limit:
            raise ValueError("limit >= 1, window > 0 and 0 <= headroom < limit are required")
        self.limit = limit
        self.window = float(window)
        self.headroom = headroom
        self._headers = (limit_header, remaining_header, reset_header)
        self._in_flight = 0
        self._done: deque[float] = deque()
        self._server_blocked_until = -math.inf

    @property
    def used(self) -> int:
        """Calls that count against the current window (in flight or recently answered)."""
        return self._used_at(self.clock.monotonic())

    def _used_at(self, now: float) -> int:
        horizon = now - self.window
        while self._done and self._done[0] <= horizon:
            self._done.popleft()
        return self._in_flight + len(self._done)

    def _wait_for(self, cost: float) -> float:
        now = self.clock.monotonic()
        if self._server_blocked_until > now:
            return self._server_blocked_until - now
        excess = self._used_at(now) + 1 - (self.limit - self.headroom)
        if excess <= 0:
            return 0.0
        if excess > len(self._done):
            return math.inf  # too many slots are in flight: wait for a response
        # The `excess` oldest answered calls must all leave the window first. `_used_at` decides
        # when one has left; `freed_at + window - now` can round to 0 while it still counts, and a
        # wait of 0 is a grant, so never return less than the next step of the clock.
        freed_at = self._done[excess - 1]
        return max(freed_at + self.window - now, math.ulp(now))

    def _take(self, cost: float) -> None:
        self._in_flight += 1

    def _observe(self, permit: Permit, feedback: Feedback) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if feedback.sent:
            self._done.append(self.clock.monotonic())
        self._adapt(feedback)

    def _adapt(self, feedback: Feedback) -> None:
        limit_name, remaining_name, reset_name = self._headers
        limit = _number(header(feedback.headers, limit_name)) if limit_name else None
        if limit is not None and limit >= 1:
            self.limit = max(int(limit), self.headroom + 1)
        remaining = _number(header(feedback.headers, remaining_name)) if remaining_name else None
        reset = _number(header(feedback.headers, reset_name)) if reset_name else None
        if remaining is not None and reset is not None and remaining <= self.headroom:
            self._block_for(reset)

    def _block_for(self, seconds: float) -> None:
        until = self.clock.monotonic() + max(0.0, seconds)
        self._server_blocked_until = max(self._server_blocked_until, until)


class DailyAllocation(WindowBudget):
    """A rolling 24-hour allocation that follows ``Sforce-Limit-Info: api-usage=used/limit``.

    When the server reports the allocation used up (less `headroom`), callers wait instead of
    failing: until the oldest of our own calls leaves the rolling day, or `recheck` seconds
    when none of ours is in it; the next response tells again where the allocation stands.

    Args:
        name: The destination.
        limit: Calls per rolling day (Salesforce: per edition and licences).
        headroom: Calls left for other integrations of the org.
        recheck: Seconds to wait before trying again when the day is used up by others.
        window: The rolling period (default 24 h).
        clock: The clock.
    """

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        headroom: int = 0,
        recheck: float = 300.0,
        window: float = 86_400.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            name,
            limit=limit,
            window=window,
            headroom=headroom,
            limit_header=None,
            remaining_header=None,
            reset_header=None,
            clock=clock,
        )
        self.recheck = recheck
        self.reported_used: int | None = None

    def _adapt(self, feedback: Feedback) -> None:
        used, limit = _parse_api_usage(header(feedback.headers, "Sforce-Limit-Info"))
        if limit is not None and limit > self.headroom:
            self.limit = limit
        if used is None:
            return
        self.reported_used = used
        if used >= self.limit - self.headroom:
            oldest = self._done[0] + self.window - self.clock.monotonic() if self._done else None
            self._block_for(oldest if oldest is not None and oldest > 0 else self.recheck)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_api_usage(value: str | None) -> tuple[int | None, int | None]:
    """Parse ``api-usage=18/5000`` (other comma-separated entries such as per-app are skipped)."""
    if not value:
        return None, None
    for part in value.split(","):
        key, _, figures = part.strip().partition("=")
        if key.strip().lower() == "api-usage" and "/" in figures:
            used, _, limit = figures.partition("/")
            try:
                return int(used.strip()), int(limit.strip())
            except ValueError:
                return None, None
    return None, None
