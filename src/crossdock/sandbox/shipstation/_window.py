"""ShipStation's quota: a fixed window of requests per API key pair (40 per minute)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class WindowResult:
    """The outcome of one call against the window.

    Attributes:
        allowed: Whether the call fits in the window.
        limit: The limit in force (after injected throttling).
        remaining: Calls left in this window after this one.
        reset_s: Whole seconds until the window resets (``X-Rate-Limit-Reset``).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: int


class FixedWindow:
    """Counts calls per key in fixed windows of ``window_s`` seconds.

    Args:
        limit: Calls allowed per window (ShipStation: 40).
        window_s: The window length (ShipStation: 60 s).
        monotonic: The time source.
    """

    def __init__(
        self, limit: int, window_s: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.configure(limit, window_s)
        self._monotonic = monotonic
        self._windows: dict[str, tuple[float, int]] = {}

    def configure(self, limit: int, window_s: float) -> None:
        """Change the limit and window length (counts so far are kept)."""
        if limit < 1 or window_s <= 0:
            raise ValueError("a window needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = float(window_s)

    def take(self, key: str, *, factor: float = 1.0) -> WindowResult:
        """Count one call of ``key`` if it fits; refused calls are not counted."""
        now = self._monotonic()
        limit = max(1, math.floor(self.limit * factor))
        started, used = self._windows.get(key, (now, 0))
        if now - started >= self.window_s:
            started, used = now, 0
        reset = max(1, math.ceil(started + self.window_s - now))
        if used >= limit:
            self._windows[key] = (started, used)
            return WindowResult(False, limit, 0, reset)
        used += 1
        self._windows[key] = (started, used)
        return WindowResult(True, limit, limit - used, reset)

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()
