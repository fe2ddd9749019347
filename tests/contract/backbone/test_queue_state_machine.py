"""The work queue against a model: hypothesis drives enqueue, claim, settle and time.

The model says which commands are claimable (pending and due, or running with an expired
lease; and no earlier unfinished command with the same partition key) and whether a settle
with a given claim must succeed or raise `LeaseLost`. Runs on SQLite (fast, no server).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from crossdock.backbone import ClaimedCommand, Command, LeaseLost
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.runtime.clock import ManualClock

LEASE = 10.0
MAX_ATTEMPTS = 3


@dataclass
class Model:
    """What the queue should hold for one command."""

    order: int
    partition: str | None
    status: str = "pending"
    token: int = 0
    attempts: int = 0
    not_before: float = 0.0
    lease_expires_at: float = 0.0


class QueueMachine(RuleBasedStateMachine):
    """Random sequences of queue operations, checked step by step against `Model`."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = Path(tempfile.mkdtemp(prefix="crossdock-queue-sm-"))
        self.clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
        self.store = SQLiteStore(self.tmp / "q.db", synchronous="NORMAL", clock=self.clock)
        self.run(self.store.start())
        self.model: dict[str, Model] = {}
        self.claims: list[ClaimedCommand] = []

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def now(self) -> float:
        return self.clock.now().timestamp()

    def claimable(self) -> list[str]:
        now = self.now()
        unfinished = {k: m for k, m in self.model.items() if m.status in ("pending", "running")}
        ready = []
        for key, m in sorted(unfinished.items(), key=lambda kv: kv[1].order):
            due = (m.status == "pending" and m.not_before <= now) or (
                m.status == "running" and m.lease_expires_at <= now
            )
            blocked = m.partition is not None and any(
                o.partition == m.partition and o.order < m.order for o in unfinished.values()
            )
            if due and not blocked:
                ready.append(key)
        return ready

    def lease_valid(self, claim: ClaimedCommand) -> bool:
        m = self.model[claim.command.idempotency_key]
        return m.status == "running" and m.token == claim.token and self.now() < m.lease_expires_at

    @rule(
        key=st.sampled_from([f"k{i}" for i in range(8)]),
        partition=st.sampled_from([None, "A", "B"]),
    )
    def enqueue(self, key: str, partition: str | None) -> None:
        (result,) = self.run(
            self.store.enqueue(
                Command(key, "erp", "x", partition_key=partition, max_attempts=MAX_ATTEMPTS)
            )
        )
        assert result.created == (key not in self.model)
        if result.created:
            self.model[key] = Model(result.command_id, partition, not_before=self.now())

    @rule(limit=st.integers(1, 3))
    def claim(self, limit: int) -> None:
        expected = self.claimable()[:limit]
        claims = self.run(self.store.claim("w", limit=limit, lease_seconds=LEASE))
        now = self.now()
        returned = []
        for key in expected:
            m = self.model[key]
            m.token += 1
            m.attempts += 1
            if m.attempts > MAX_ATTEMPTS:  # taken over once too often: dead, not returned
                m.status = "dead"
                continue
            m.status, m.lease_expires_at = "running", now + LEASE
            returned.append(key)
        assert sorted(c.command.idempotency_key for c in claims) == sorted(returned)
        for claim in claims:
            assert claim.token == self.model[claim.command.idempotency_key].token
        self.claims.extend(claims)

    @precondition(lambda self: self.claims)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        claim = data.draw(st.sampled_from(self.claims))
        valid = self.lease_valid(claim)
        if valid:
            self.run(self.store.complete(claim))
            self.model[claim.command.idempotency_key].status = "done"
        else:
            with pytest.raises(LeaseLost):
                self.run(self.store.complete(claim))

    @precondition(lambda self: self.claims)
    @rule(data=st.data(), retry_after=st.sampled_from([0.0, 5.0]))
    def fail(self, data: st.DataObject, retry_after: float) -> None:
        claim = data.draw(st.sampled_from(self.claims))
        m = self.model[claim.command.idempotency_key]
        if not self.lease_valid(claim):
            with pytest.raises(LeaseLost):
                self.run(self.store.fail_retryable(claim, "boom", retry_after=retry_after))
            return
        retry = self.run(self.store.fail_retryable(claim, "boom", retry_after=retry_after))
        assert retry.dead == (m.attempts >= MAX_ATTEMPTS)
        if retry.dead:
            m.status = "dead"
        else:
            m.status, m.not_before = "pending", self.now() + retry_after

    @rule(seconds=st.sampled_from([1.0, 4.0, 11.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def depth_matches(self) -> None:
        depth = self.run(self.store.queue_depth())
        unfinished = sum(m.status in ("pending", "running") for m in self.model.values())
        assert depth.get("erp", 0) == unfinished


QueueMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, derandomize=False
)
test_the_queue_follows_its_model = QueueMachine.TestCase
