"""The circuit breaker: examples, and a hypothesis state machine over many workers."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    BreakerConfig,
    BreakerHooks,
    BreakerOpenError,
    BreakerState,
    CircuitBreaker,
    InMemoryBreakerStateStore,
    Ticket,
)

T = TypeVar("T")


class RecordingHooks(BreakerHooks):
    def __init__(self) -> None:
        self.changes: list[tuple[BreakerState, BreakerState]] = []
        self.rejections = 0

    def on_state_change(self, name: str, old: BreakerState, new: BreakerState) -> None:
        self.changes.append((old, new))

    def on_rejected(self, name: str, state: BreakerState, retry_after: float) -> None:
        self.rejections += 1


async def test_opens_after_consecutive_failures_then_one_probe_closes_it() -> None:
    clock = ManualClock()
    hooks = RecordingHooks()
    config = BreakerConfig(failure_threshold=3, open_seconds=30)
    breaker = CircuitBreaker("netsuite:1", config=config, clock=clock, hooks=hooks)
    for _ in range(3):
        await breaker.record_failure(await breaker.before_call())
    assert await breaker.state() is BreakerState.OPEN
    with pytest.raises(BreakerOpenError) as refused:
        await breaker.before_call()
    assert refused.value.retry_after == pytest.approx(30)
    clock.advance(30)
    probe = await breaker.before_call()
    assert probe.probe
    with pytest.raises(BreakerOpenError):
        await breaker.before_call()  # one probe at a time
    await breaker.record_success(probe)
    assert await breaker.state() is BreakerState.CLOSED
    assert hooks.changes == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]
    assert hooks.rejections == 2


async def test_a_success_resets_the_consecutive_count() -> None:
    breaker = CircuitBreaker("x", config=BreakerConfig(failure_threshold=2), clock=ManualClock())
    await breaker.record_failure(await breaker.before_call())
    await breaker.record_success(await breaker.before_call())
    await breaker.record_failure(await breaker.before_call())
    assert await breaker.state() is BreakerState.CLOSED


async def test_failure_rate_within_the_window_opens_it() -> None:
    config = BreakerConfig(failure_threshold=100, failure_rate=0.5, min_calls=4, window=60)
    breaker = CircuitBreaker("x", config=config, clock=ManualClock())
    for failed in (False, True, False, True):
        ticket = await breaker.before_call()
        if failed:
            await breaker.record_failure(ticket)
        else:
            await breaker.record_success(ticket)
    assert await breaker.state() is BreakerState.OPEN


async def test_two_breakers_sharing_a_store_see_one_state_and_one_probe() -> None:
    clock, store = ManualClock(), InMemoryBreakerStateStore()
    config = BreakerConfig(failure_threshold=1, open_seconds=5)
    worker_a = CircuitBreaker("bc:prod", store=store, config=config, clock=clock)
    worker_b = CircuitBreaker("bc:prod", store=store, config=config, clock=clock)
    await worker_a.record_failure(await worker_a.before_call())
    assert await worker_b.state() is BreakerState.OPEN
    clock.advance(5)
    results = await asyncio.gather(
        worker_a.before_call(), worker_b.before_call(), return_exceptions=True
    )
    assert sum(isinstance(r, Ticket) and r.probe for r in results) == 1
    assert sum(isinstance(r, BreakerOpenError) for r in results) == 1
    assert await store.names() == ["bc:prod"]


async def test_a_lost_probe_frees_its_place_after_its_lease() -> None:
    clock = ManualClock()
    config = BreakerConfig(failure_threshold=1, open_seconds=5, probe_lease=20)
    breaker = CircuitBreaker("x", config=config, clock=clock)
    await breaker.record_failure(await breaker.before_call())
    clock.advance(5)
    lost = await breaker.before_call()
    clock.advance(20)
    second = await breaker.before_call()
    assert second.probe
    await breaker.record_failure(lost)  # the stale probe no longer decides
    assert await breaker.state() is BreakerState.HALF_OPEN
    await breaker.record_failure(second)
    assert await breaker.state() is BreakerState.OPEN


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        BreakerConfig(failure_rate=1.5)


class BreakerMachine(RuleBasedStateMachine):
    """Many workers share one store; the machine checks the breaker's promises."""

    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = ManualClock()
        self.store = InMemoryBreakerStateStore()
        self.config = BreakerConfig(failure_threshold=3, open_seconds=10, probe_lease=30)
        self.outstanding: list[tuple[Ticket, float]] = []

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def worker(self) -> CircuitBreaker:
        return CircuitBreaker("dest", store=self.store, config=self.config, clock=self.clock)

    @initialize()
    def start(self) -> None:
        self.opened_at: float | None = None

    @rule(target=tickets)
    def begin_call(self) -> Ticket | None:
        before = self.run(self.store.load("dest"))
        now = self.clock.now().timestamp()
        refused: BreakerOpenError | None = None
        try:
            ticket = self.run(self.worker().before_call())
        except BreakerOpenError as exc:
            refused = exc
        if refused is not None:
            assert before.state is not BreakerState.CLOSED
            assert refused.retry_after > 0
            if before.state is BreakerState.OPEN:
                assert before.opened_at is not None
                assert now < before.opened_at + self.config.open_seconds
            return None
        if before.state is BreakerState.CLOSED:
            assert not ticket.probe
        else:
            assert ticket.probe
        self.outstanding.append((ticket, now))
        return ticket

    @rule(ticket=consumes(tickets), succeeded=st.booleans())
    def end_call(self, ticket: Ticket | None, succeeded: bool) -> None:
        if ticket is None:
            return
        before = self.run(self.store.load("dest"))
        breaker = self.worker()
        if succeeded:
            self.run(breaker.record_success(ticket))
        else:
            self.run(breaker.record_failure(ticket))
        self.outstanding = [(t, at) for t, at in self.outstanding if t is not ticket]
        after = self.run(self.store.load("dest"))
        if ticket.probe and before.probe_id == ticket.id:
            assert after.state is (BreakerState.CLOSED if succeeded else BreakerState.OPEN)
        if not ticket.probe and before.state is BreakerState.CLOSED and not succeeded:
            opens = before.consecutive_failures + 1 >= self.config.failure_threshold
            assert after.state is (BreakerState.OPEN if opens else BreakerState.CLOSED)

    @rule(seconds=st.sampled_from([0.5, 3.0, 10.0, 31.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def at_most_one_live_probe(self) -> None:
        now = self.clock.now().timestamp()
        live = [t for t, at in self.outstanding if t.probe and at + self.config.probe_lease > now]
        assert len(live) <= 1

    @invariant()
    def closed_means_below_threshold(self) -> None:
        record = self.run(self.store.load("dest"))
        if record.state is BreakerState.CLOSED:
            assert record.consecutive_failures < self.config.failure_threshold
            assert record.probe_id is None

    def teardown(self) -> None:
        self.loop.close()


BreakerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_breaker_state_machine = BreakerMachine.TestCase


async def test_a_released_probe_lets_the_next_caller_probe() -> None:
    clock = ManualClock()
    config = BreakerConfig(failure_threshold=1, open_seconds=5, probe_lease=600)
    breaker = CircuitBreaker("x", config=config, clock=clock)
    await breaker.record_failure(await breaker.before_call())
    clock.advance(5)
    probe = await breaker.before_call()
    await breaker.release(probe)
    await breaker.release(Ticket(id="", probe=False))  # a normal ticket: nothing to free
    second = await breaker.before_call()
    assert second.probe
    await breaker.release(probe)  # stale: changes nothing
    with pytest.raises(BreakerOpenError):
        await breaker.before_call()
