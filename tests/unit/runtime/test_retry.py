"""The retry policy: exponential backoff with full jitter, capped, with Retry-After honoured."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossdock.runtime.retry import (
    DEFAULT_RETRY_AFTER_CAP_SECONDS,
    Backoff,
    backoff_ceiling,
    backoff_delay,
    parse_retry_after,
)

policies = st.builds(
    lambda base, extra, minimum_share, attempts: Backoff(
        base_seconds=base,
        cap_seconds=base + extra,
        minimum_seconds=(base + extra) * minimum_share,
        max_attempts=attempts,
    ),
    st.floats(0.001, 60.0),
    st.floats(0.0, 3600.0),
    st.floats(0.0, 1.0),
    st.integers(1, 50),
)
attempts = st.integers(1, 200)
seeds = st.integers(0, 2**32)


@given(policies, attempts, seeds)
def test_delay_lies_between_minimum_and_ceiling(policy: Backoff, attempt: int, seed: int) -> None:
    delay = policy.delay(attempt, random.Random(seed))
    assert policy.minimum_seconds <= delay <= max(policy.minimum_seconds, policy.cap_seconds)
    assert delay <= max(policy.minimum_seconds, backoff_ceiling(policy, attempt))


@given(policies, attempts, seeds)
def test_same_seed_same_schedule(policy: Backoff, attempt: int, seed: int) -> None:
    assert policy.delay(attempt, random.Random(seed)) == policy.delay(attempt, random.Random(seed))


@given(policies, st.integers(1, 199))
def test_ceiling_grows_until_the_cap(policy: Backoff, attempt: int) -> None:
    now, later = backoff_ceiling(policy, attempt), backoff_ceiling(policy, attempt + 1)
    assert now <= later <= policy.cap_seconds
    if later < policy.cap_seconds:
        assert later == pytest.approx(2 * now)


@given(policies, attempts, seeds, st.floats(0.0, 2 * DEFAULT_RETRY_AFTER_CAP_SECONDS))
def test_retry_after_is_honoured_up_to_its_cap(
    policy: Backoff, attempt: int, seed: int, retry_after: float
) -> None:
    delay = policy.delay(attempt, random.Random(seed), retry_after=retry_after)
    assert delay >= min(retry_after, DEFAULT_RETRY_AFTER_CAP_SECONDS)
    assert delay <= max(policy.cap_seconds, min(retry_after, DEFAULT_RETRY_AFTER_CAP_SECONDS))


@given(policies, attempts, seeds, st.sampled_from([float("nan"), float("inf"), -5.0]))
def test_nonsense_retry_after_is_ignored(
    policy: Backoff, attempt: int, seed: int, retry_after: float
) -> None:
    plain = policy.delay(attempt, random.Random(seed))
    assert policy.delay(attempt, random.Random(seed), retry_after=retry_after) == plain


@given(policies, attempts, seeds)
def test_decision_gives_up_exactly_at_max_attempts(
    policy: Backoff, attempt: int, seed: int
) -> None:
    decision = policy.decide(attempt, random.Random(seed))
    assert decision.retry is (attempt < policy.max_attempts)
    assert (decision.delay_seconds is None) is (not decision.retry)


def test_full_jitter_spreads_delays_over_the_range() -> None:
    policy = Backoff(base_seconds=1.0, cap_seconds=8.0, minimum_seconds=0.0)
    rng = random.Random(7)
    delays = [policy.delay(4, rng) for _ in range(2000)]
    assert min(delays) < 1.0
    assert max(delays) > 7.0
    assert max(delays) <= 8.0


def test_any_object_with_the_parameters_works() -> None:
    class StorePolicy:
        base_seconds = 2.0
        cap_seconds = 10.0
        minimum_seconds = 0.5

    assert 0.5 <= backoff_delay(StorePolicy(), 1, random.Random(1)) <= 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_seconds": 0.0}, "base_seconds"),
        ({"base_seconds": 5.0, "cap_seconds": 1.0}, "cap_seconds"),
        ({"minimum_seconds": -1.0}, "minimum_seconds"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)  # type: ignore[arg-type]


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_ceiling(Backoff(), 0)


NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Fri, 27 Nov 2026 12:00:30 GMT", 30.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-3", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected
