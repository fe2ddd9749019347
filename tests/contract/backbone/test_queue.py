"""Work-queue contract: idempotent enqueue, ordering, leases, fencing, retries, retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from crossdock.backbone import (
    Command,
    CommandStatus,
    LeaseLost,
    RetryPolicy,
    SqlStore,
    StoreLocked,
)
from crossdock.canonical.envelope import Event
from crossdock.runtime.clock import ManualClock

from .conftest import Backend


def _cmd(key: str, **kwargs: object) -> Command:
    fields: dict[str, object] = {"destination": "netsuite", "kind": "sales_order.create"}
    fields.update(kwargs)
    return Command(key, payload={"order": key}, **fields)  # type: ignore[arg-type]


async def test_enqueueing_a_key_twice_returns_the_existing_command(store: SqlStore) -> None:
    (first,) = await store.enqueue(_cmd("order-1:create"))
    (second,) = await store.enqueue(_cmd("order-1:create", destination="elsewhere"))
    assert first.created
    assert not second.created
    assert second.command_id == first.command_id
    record = await store.get_command(first.command_id)
    assert record is not None
    assert record.command.destination == "netsuite"
    assert record.status is CommandStatus.PENDING
    found = await store.find_command("order-1:create")
    assert found is not None
    assert found.command_id == first.command_id


async def test_a_payload_round_trips_with_decimals_and_unicode(store: SqlStore) -> None:
    payload = {"total": "12.50", "rate": 0.25, "name": "Zoë", "lines": [{"qty": 2}]}
    await store.enqueue(Command("k", "erp", "x", payload=payload))
    (claim,) = await store.claim("w")
    assert claim.command.payload["name"] == "Zoë"
    assert str(claim.command.payload["rate"]) == "0.25"
    assert claim.command.payload["lines"] == [{"qty": 2}]


async def test_commands_sharing_a_partition_key_run_one_at_a_time_in_order(
    store: SqlStore,
) -> None:
    await store.enqueue(
        _cmd("a1", partition_key="order-A"),
        _cmd("a2", partition_key="order-A"),
        _cmd("b1", partition_key="order-B"),
        _cmd("free"),
    )
    first = await store.claim("w", limit=10)
    assert sorted(c.command.idempotency_key for c in first) == ["a1", "b1", "free"]
    assert await store.claim("w", limit=10) == []
    a1 = next(c for c in first if c.command.idempotency_key == "a1")
    await store.complete(a1)
    (a2,) = await store.claim("w", limit=10)
    assert a2.command.idempotency_key == "a2"


async def test_a_retried_head_keeps_its_partition_blocked(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("p1", partition_key="sku-1"), _cmd("p2", partition_key="sku-1"))
    (p1,) = await store.claim("w", limit=10)
    await store.fail_retryable(p1, "503 from the ERP", retry_after=60)
    assert await store.claim("w", limit=10) == []  # p2 waits behind the retrying p1
    clock.advance(60)
    (again,) = await store.claim("w", limit=10)
    assert again.command.idempotency_key == "p1"
    assert again.attempt == 2


async def test_a_dead_head_unblocks_its_partition(store: SqlStore) -> None:
    await store.enqueue(_cmd("h1", partition_key="k"), _cmd("h2", partition_key="k"))
    (h1,) = await store.claim("w")
    await store.fail_permanent(h1, "422 invalid customer", reason="rejected by the ERP")
    (h2,) = await store.claim("w")
    assert h2.command.idempotency_key == "h2"


async def test_higher_priority_runs_first_then_enqueue_order(store: SqlStore) -> None:
    await store.enqueue(_cmd("low"), _cmd("high", priority=5), _cmd("low2"))
    claims = await store.claim("w", limit=3)
    assert [c.command.idempotency_key for c in claims] == ["high", "low", "low2"]


async def test_not_before_holds_a_command_back(store: SqlStore, clock: ManualClock) -> None:
    await store.enqueue(_cmd("later", not_before=clock.now() + timedelta(minutes=5)))
    assert await store.claim("w") == []
    clock.advance(300)
    (claim,) = await store.claim("w")
    assert claim.command.idempotency_key == "later"


async def test_claims_filter_by_destination(store: SqlStore) -> None:
    await store.enqueue(_cmd("n"), _cmd("s", destination="shipstation"))
    (claim,) = await store.claim("w", destinations=["shipstation"], limit=5)
    assert claim.command.destination == "shipstation"
    assert await store.claim("w", destinations=["easypost"]) == []


async def test_an_expired_lease_is_taken_over_and_the_late_writes_refused(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("slow"))
    (mine,) = await store.claim("worker-1", lease_seconds=10)
    assert mine.token == 1
    assert mine.attempt == 1
    clock.advance(11)
    (theirs,) = await store.claim("worker-2", lease_seconds=10)
    assert theirs.command_id == mine.command_id
    assert theirs.token == 2
    assert theirs.attempt == 2
    event = Event(source="hub", type="erp.order.created", correlationid="c")
    with pytest.raises(LeaseLost):
        await store.complete(mine, {"late": True}, result_events=[event])
    with pytest.raises(LeaseLost):
        await store.fail_retryable(mine, "late failure")
    with pytest.raises(LeaseLost):
        await store.fail_permanent(mine, "late", reason="late")
    with pytest.raises(LeaseLost):
        await store.extend(mine)
    with pytest.raises(LeaseLost):
        await store.release(mine)
    assert await store.read_events() == []  # the refused completion appended nothing
    await store.complete(theirs, {"erp_id": "SO-1"})
    record = await store.get_command(mine.command_id)
    assert record is not None
    assert record.status is CommandStatus.DONE
    assert record.result == {"erp_id": "SO-1"}
    (lost,) = await store.attempts(mine.command_id)
    assert (lost.outcome, lost.worker, lost.token) == ("lease_expired", "worker-1", 1)


async def test_a_lease_past_its_expiry_is_refused_even_before_a_takeover(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("paused"))
    (claim,) = await store.claim("w", lease_seconds=5)
    clock.advance(5)
    with pytest.raises(LeaseLost):
        await store.complete(claim)


async def test_extending_a_lease_keeps_it_from_being_taken_over(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("long"))
    (claim,) = await store.claim("w", lease_seconds=10)
    clock.advance(8)
    extended = await store.extend(claim, 10)
    assert extended.lease_expires_at > claim.lease_expires_at
    clock.advance(8)
    assert await store.claim("other") == []
    await store.complete(extended)


async def test_concurrent_claimers_never_share_a_command(store: SqlStore) -> None:
    await store.enqueue(*(_cmd(f"c-{i}") for i in range(60)))
    seen: list[int] = []

    async def worker(name: str) -> None:
        while claims := await store.claim(name, limit=3):
            for claim in claims:
                seen.append(claim.command_id)
                await store.complete(claim)

    await asyncio.gather(*(worker(f"w{i}") for i in range(6)))
    assert len(seen) == 60
    assert len(set(seen)) == 60


async def test_retry_after_is_honoured(store: SqlStore, clock: ManualClock) -> None:
    await store.enqueue(_cmd("rate-limited"))
    (claim,) = await store.claim("w")
    retry = await store.fail_retryable(claim, "429 Too Many Requests", retry_after=42)
    assert not retry.dead
    assert retry.next_attempt_at == clock.now() + timedelta(seconds=42)
    clock.advance(41)
    assert await store.claim("w") == []
    clock.advance(1)
    (again,) = await store.claim("w")
    assert again.attempt == 2
    assert again.token == 2
    (attempt,) = await store.attempts(claim.command_id)
    assert (attempt.outcome, attempt.error) == ("retryable", "429 Too Many Requests")


async def test_backoff_grows_exponentially_with_jitter(
    backend: Backend, clock: ManualClock
) -> None:
    policy = RetryPolicy(base_seconds=2.0, cap_seconds=20.0, minimum_seconds=0.5)
    store = backend.build(clock, retry_policy=policy)
    await store.start()
    try:
        await store.enqueue(_cmd("flaky", max_attempts=6))
        delays: list[float] = []
        for attempt in range(1, 6):
            (claim,) = await store.claim("w")
            assert claim.attempt == attempt
            retry = await store.fail_retryable(claim, f"timeout {attempt}")
            assert retry.next_attempt_at is not None
            delay = (retry.next_attempt_at - clock.now()).total_seconds()
            delays.append(delay)
            assert 0.5 <= delay <= min(20.0, 2.0 * 2 ** (attempt - 1)) + 1e-6
            clock.advance(delay + 0.01)  # times are stored to the microsecond
    finally:
        await store.close()
    assert len(delays) == 5


async def test_running_out_of_attempts_dead_letters_with_every_error(store: SqlStore) -> None:
    await store.enqueue(_cmd("doomed", max_attempts=3))
    for attempt in range(1, 4):
        (claim,) = await store.claim("w")
        retry = await store.fail_retryable(claim, f"error {attempt}", retry_after=0)
    assert retry.dead
    assert retry.next_attempt_at is None
    letter = await store.get_dead_letter(claim.command_id)
    assert letter is not None
    assert [a.error for a in letter.attempts] == ["error 1", "error 2", "error 3"]
    assert "out of attempts" in letter.reason
    assert letter.command.payload == {"order": "doomed"}


async def test_a_command_whose_leases_keep_expiring_ends_dead(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("poison", max_attempts=2))
    for _ in range(2):
        assert len(await store.claim("w", lease_seconds=1)) == 1
        clock.advance(2)
    assert await store.claim("w") == []
    (letter,) = await store.list_dead_letters()
    assert letter.command.idempotency_key == "poison"
    assert [a.outcome for a in letter.attempts] == ["lease_expired", "lease_expired"]
    # The flow that asked hears of it: a command.failed event committed with the dead letter.
    (failed,) = [s.event for s in await store.read_events() if s.event.type == "command.failed"]
    assert failed.data["idempotency_key"] == "poison"
    assert failed.data["destination"] == "netsuite"
    assert "out of attempts (2)" in failed.data["reason"]


async def test_release_gives_a_claim_back_without_counting_it(store: SqlStore) -> None:
    await store.enqueue(_cmd("shutdown"))
    (claim,) = await store.claim("w")
    await store.release(claim)
    (again,) = await store.claim("w2")
    assert again.attempt == 1
    assert again.token == claim.token + 1


async def test_complete_appends_its_result_events_atomically(store: SqlStore) -> None:
    await store.enqueue(_cmd("create"))
    (claim,) = await store.claim("w")
    event = Event(source="netsuite", type="erp.order.created", subject="o-1", correlationid="c")
    stored = await store.complete(claim, {"id": "SO-9"}, result_events=[event])
    assert [s.event.id for s in stored] == [event.id]
    assert [s.event.id for s in await store.events_by_subject("o-1")] == [event.id]


async def test_queue_depth_counts_unfinished_commands_per_destination(store: SqlStore) -> None:
    await store.enqueue(_cmd("1"), _cmd("2"), _cmd("3", destination="easypost"))
    (claim,) = await store.claim("w", destinations=["netsuite"])
    assert await store.queue_depth() == {"netsuite": 2, "easypost": 1}
    await store.complete(claim)
    assert await store.queue_depth() == {"netsuite": 1, "easypost": 1}


async def test_retention_purges_only_old_completed_commands(
    store: SqlStore, clock: ManualClock
) -> None:
    await store.enqueue(_cmd("old"), _cmd("dead"))
    old, dead = await store.claim("w", limit=2)
    await store.complete(old)
    await store.fail_permanent(dead, "boom", reason="bad")
    clock.advance(3600)
    await store.enqueue(_cmd("recent"))
    (recent,) = await store.claim("w", limit=5)
    await store.complete(recent)
    assert await store.purge_completed(timedelta(minutes=30)) == 1
    assert await store.get_command(old.command_id) is None
    assert await store.get_command(recent.command_id) is not None
    assert await store.get_dead_letter(dead.command_id) is not None


async def test_concurrent_enqueues_of_one_key_create_it_once(store: SqlStore) -> None:
    results = await asyncio.gather(*(store.enqueue(_cmd(f"k-{i % 3}")) for i in range(30)))
    flat = [r for (r,) in results]
    assert sum(r.created for r in flat) == 3
    assert len({r.command_id for r in flat}) == 3
    assert await store.queue_depth() == {"netsuite": 3}


async def test_completing_one_claim_twice_concurrently_succeeds_once(store: SqlStore) -> None:
    await store.enqueue(_cmd("twice"))
    (claim,) = await store.claim("w")
    results = await asyncio.gather(
        store.complete(claim, {"n": 1}), store.complete(claim, {"n": 2}), return_exceptions=True
    )
    assert sum(isinstance(r, LeaseLost) for r in results) == 1
    record = await store.get_command(claim.command_id)
    assert record is not None
    assert record.status is CommandStatus.DONE


async def test_an_idle_worker_is_woken_by_new_work(store: SqlStore) -> None:
    async def idle_worker() -> list[str]:
        while not (claims := await store.claim("w")):
            await store.wait_for_work(30)
        return [c.command.idempotency_key for c in claims]

    worker = asyncio.create_task(idle_worker())
    await asyncio.sleep(0.05)
    await store.enqueue(_cmd("wake-up"))
    assert await asyncio.wait_for(worker, timeout=10) == ["wake-up"]


async def test_two_stores_on_one_database_never_share_a_command(
    backend: Backend, store: SqlStore, clock: ManualClock
) -> None:
    other = backend.build(clock)
    if backend.kind == "sqlite":  # one SQLite file, one hub process: the second is refused
        with pytest.raises(StoreLocked):
            await other.start()
        return
    await other.start()
    try:
        await store.enqueue(*(_cmd(f"shared-{i}", partition_key=f"p{i % 5}") for i in range(50)))
        done: list[tuple[str, int]] = []

        async def worker(s: SqlStore, name: str) -> None:
            while claims := await s.claim(name, limit=2):
                for claim in claims:
                    done.append((claim.command.idempotency_key, claim.command_id))
                    await s.complete(claim)

        await asyncio.gather(*(worker(s, f"{i}") for i in range(4) for s in (store, other)))
    finally:
        await other.close()
    assert len(done) == 50
    assert len(set(done)) == 50
    by_partition: dict[str, list[int]] = {}
    for key, command_id in done:
        by_partition.setdefault(f"p{int(key.split('-')[1]) % 5}", []).append(command_id)
    assert all(ids == sorted(ids) for ids in by_partition.values())  # per-key order held


async def test_every_field_of_a_command_round_trips(store: SqlStore, clock: ManualClock) -> None:
    command = Command(
        idempotency_key="order-9:ship",
        destination="shipstation",
        kind="order.create",
        payload={"lines": [{"sku": "A-1", "qty": 3}], "total": "99.90"},
        partition_key="order-9",
        not_before=clock.now() + timedelta(seconds=90),
        priority=7,
        max_attempts=4,
        correlation_id="corr-9",
    )
    (single,) = await store.enqueue(command)
    record = await store.find_command("order-9:ship")
    assert record is not None
    assert record.command_id == single.command_id
    assert record.command == command
    assert record.status is CommandStatus.PENDING
    assert record.attempts == 0
    assert record.enqueued_at == clock.now()
