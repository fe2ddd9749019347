"""Business Central's operational limits per service principal: a sliding window of requests
(6,000 per 5 minutes) and a cap on requests processed at once (5)."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable

from crossdock.sandbox.businesscentral._wire import ODataError


def too_many(message: str, retry_after: float) -> ODataError:
    """The 429 BC answers, with ``Retry-After`` in whole seconds."""
    return ODataError(
        429,
        "Application_TooManyRequests",
        message,
        {"Retry-After": str(max(1, math.ceil(retry_after)))},
    )


class PrincipalLimits:
    """Counts requests per principal in a sliding window, and those in flight.

    Args:
        limit: Requests per window.
        window_s: The window length.
        max_concurrent: Requests processed at once; one more is refused with 429.
        monotonic: The clock.
    """

    def __init__(
        self,
        limit: int = 6000,
        window_s: float = 300.0,
        max_concurrent: int = 5,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_concurrent = max_concurrent
        self._monotonic = monotonic
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self.in_flight: defaultdict[str, int] = defaultdict(int)
        self.refused = 0

    def admit(self, principal: str, *, factor: float = 1.0) -> None:
        """Count one request, or refuse it.

        Raises:
            ODataError: 429 ``Application_TooManyRequests`` with ``Retry-After``.
        """
        now = self._monotonic()
        seen = self._seen[principal]
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()
        limit = max(1, int(self.limit * factor))
        if len(seen) >= limit:
            self.refused += 1
            raise too_many(
                f"Too many requests reached.  Actual ({len(seen) + 1}).  Maximum ({limit}).",
                seen[0] + self.window_s - now,
            )
        if self.in_flight[principal] >= self.max_concurrent:
            self.refused += 1
            raise too_many(f"Too many concurrent requests.  Maximum ({self.max_concurrent}).", 1.0)
        seen.append(now)
        self.in_flight[principal] += 1

    def done(self, principal: str) -> None:
        """A request admitted by `admit` has been answered."""
        self.in_flight[principal] = max(0, self.in_flight[principal] - 1)

    def reset(self) -> None:
        """Forget every count."""
        self._seen.clear()
        self.in_flight.clear()
        self.refused = 0
