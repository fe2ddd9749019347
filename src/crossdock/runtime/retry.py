"""The retry policy as values: exponential backoff with full jitter, a cap, a limit, Retry-After.

Pure functions of their arguments and a `random.Random` the caller seeds, so a schedule can be
replayed exactly in a test. Durable retries do not sleep here: the store writes the next
attempt time into the queue (`Store.fail_retryable`); the store's own `RetryPolicy` value
satisfies `BackoffParameters`, so `backoff_delay` computes its delays too.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

__all__ = [
    "DEFAULT_RETRY_AFTER_CAP_SECONDS",
    "Backoff",
    "BackoffParameters",
    "RetryDecision",
    "backoff_ceiling",
    "backoff_delay",
    "parse_retry_after",
]

# A Retry-After beyond this is treated as this: a broken header must not park work for a year.
DEFAULT_RETRY_AFTER_CAP_SECONDS = 24 * 3600.0


class BackoffParameters(Protocol):
    """What a backoff computation needs (the store's `RetryPolicy` has these too)."""

    @property
    def base_seconds(self) -> float:
        """The ceiling of the first retry's delay."""
        ...

    @property
    def cap_seconds(self) -> float:
        """The largest ceiling, however many attempts failed."""
        ...

    @property
    def minimum_seconds(self) -> float:
        """The smallest delay, so a retry never spins."""
        ...


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt.

    Attributes:
        retry: False when the attempts are used up (the command becomes a dead letter).
        delay_seconds: How long to wait before the next attempt (None when not retrying).
    """

    retry: bool
    delay_seconds: float | None


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, capped, with a maximum number of attempts.

    The delay after failed attempt n (1-based) is uniform in [0, min(cap, base * 2**(n-1))],
    raised to `minimum_seconds`; a Retry-After the remote system reported wins when longer.
    """

    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    minimum_seconds: float = 0.05
    max_attempts: int = 10

    def __post_init__(self) -> None:
        if not (self.base_seconds > 0 and math.isfinite(self.base_seconds)):
            raise ValueError("base_seconds must be a positive number")
        if not (self.cap_seconds >= self.base_seconds and math.isfinite(self.cap_seconds)):
            raise ValueError("cap_seconds must be finite and at least base_seconds")
        if not (0 <= self.minimum_seconds <= self.cap_seconds):
            raise ValueError("minimum_seconds must be between 0 and cap_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int, rng: random.Random, *, retry_after: float | None = None) -> float:
        """Return the delay after failed attempt `attempt` (see `backoff_delay`)."""
        return backoff_delay(self, attempt, rng, retry_after=retry_after)

    def decide(
        self, attempt: int, rng: random.Random, *, retry_after: float | None = None
    ) -> RetryDecision:
        """Decide, after failed attempt `attempt`, whether to retry and after how long."""
        if attempt >= self.max_attempts:
            return RetryDecision(retry=False, delay_seconds=None)
        return RetryDecision(
            retry=True, delay_seconds=self.delay(attempt, rng, retry_after=retry_after)
        )


def backoff_ceiling(params: BackoffParameters, attempt: int) -> float:
    """Return the upper bound of the jittered delay after failed attempt `attempt` (1-based)."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    # Past 2**60 the cap has long won; avoid float overflow for absurd attempt numbers.
    exponent = min(attempt - 1, 60)
    return min(params.cap_seconds, params.base_seconds * 2.0**exponent)


def backoff_delay(
    params: BackoffParameters,
    attempt: int,
    rng: random.Random,
    *,
    retry_after: float | None = None,
    retry_after_cap: float = DEFAULT_RETRY_AFTER_CAP_SECONDS,
) -> float:
    """Return the delay before the next attempt, after failed attempt `attempt` (1-based).

    Args:
        params: base, cap and minimum of the backoff.
        attempt: the number of the attempt that just failed.
        rng: the source of jitter; seed it to replay a schedule.
        retry_after: seconds the remote system asked to wait; honoured when longer than the
            jittered delay, up to `retry_after_cap`. Negative or non-finite values are ignored.
        retry_after_cap: the longest Retry-After honoured.
    """
    jittered = rng.uniform(0.0, backoff_ceiling(params, attempt))
    delay = max(params.minimum_seconds, jittered)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, retry_after_cap))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse an HTTP Retry-After header (delta-seconds or an HTTP date) into seconds.

    Returns None for a missing or malformed value; a date in the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())
