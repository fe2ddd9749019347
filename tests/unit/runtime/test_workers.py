"""The worker pool against the real SQLite store on a temporary file."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command, CommandStatus
from crossdock.observability.logging import REDACTED, register_secret, secret_registry
from crossdock.observability.metrics import HubMetrics, render_metrics
from crossdock.runtime.errors import PermanentError, RetryableError
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool

Handler = Callable[[ClaimedCommand], Awaitable[HandlerResult | None]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await s.start()
    yield s
    await s.close()


def _config(**overrides: object) -> WorkerConfig:
    settings: dict[str, object] = {
        "concurrency": 8,
        "batch_size": 8,
        "lease_seconds": 5.0,
        "idle_min_seconds": 0.01,
        "idle_max_seconds": 0.05,
        "depth_every": None,
        "stop_when_empty": True,
    }
    settings.update(overrides)
    return WorkerConfig(**settings)  # type: ignore[arg-type]


def _command(n: int, destination: str = "erp", **kw: object) -> Command:
    return Command(
        idempotency_key=f"cmd-{destination}-{n}",
        destination=destination,
        kind="thing.create",
        payload={"n": n},
        correlation_id=f"corr-{n}",
        **kw,  # type: ignore[arg-type]
    )


def _metric(metrics: HubMetrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(render_metrics(metrics).decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def _run(pool: WorkerPool) -> None:
    await asyncio.wait_for(pool.run(), timeout=30)


async def test_every_command_is_completed_with_its_result(store: SQLiteStore) -> None:
    await store.enqueue(*(_command(n) for n in range(40)))

    async def handler(claim: ClaimedCommand) -> HandlerResult:
        return HandlerResult(result={"echo": claim.command.payload["n"]})

    pool = WorkerPool(store, {"erp": handler}, _config())
    await _run(pool)

    assert pool.completed == 40
    for n in range(40):
        record = await store.find_command(f"cmd-erp-{n}")
        assert record is not None
        assert record.status is CommandStatus.DONE
        assert record.result == {"echo": n}
    assert _metric(pool.metrics, "crossdock_command_attempts_total", outcome="completed") == 40
    assert _metric(pool.metrics, "crossdock_handler_latency_seconds_count", destination="erp") == 40


async def test_each_destination_goes_to_its_own_handler(store: SQLiteStore) -> None:
    await store.enqueue(_command(1, "erp"), _command(2, "wms"), _command(3, "other"))
    seen: list[tuple[str, str]] = []

    def recorder(name: str) -> Handler:
        async def handler(claim: ClaimedCommand) -> None:
            seen.append((name, claim.command.destination))

        return handler

    pool = WorkerPool(store, {"erp": recorder("erp"), "wms": recorder("wms")}, _config())
    await _run(pool)

    assert sorted(seen) == [("erp", "erp"), ("wms", "wms")]
    other = await store.find_command("cmd-other-3")
    assert other is not None
    assert other.status is CommandStatus.PENDING


async def test_log_lines_of_a_command_carry_its_correlation_id(store: SQLiteStore) -> None:
    await store.enqueue(_command(7))
    log = structlog.get_logger("handler")

    async def handler(claim: ClaimedCommand) -> None:
        log.info("calling_erp")

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await _run(WorkerPool(store, {"erp": handler}, _config()))

    unit = [e for e in logs if e["event"] in {"calling_erp", "command_completed"}]
    assert [e["event"] for e in unit] == ["calling_erp", "command_completed"]
    for entry in unit:
        assert entry["correlation_id"] == "corr-7"
        assert entry["idempotency_key"] == "cmd-erp-7"
        assert entry["destination"] == "erp"


async def test_retryable_failure_is_retried_honouring_retry_after(store: SQLiteStore) -> None:
    await store.enqueue(_command(1))
    calls: list[int] = []

    async def handler(claim: ClaimedCommand) -> None:
        calls.append(claim.attempt)
        if claim.attempt < 3:
            raise RetryableError("erp busy", retry_after=0.01)

    pool = WorkerPool(store, {"erp": handler}, _config())
    await _run(pool)

    assert calls == [1, 2, 3]
    record = await store.find_command("cmd-erp-1")
    assert record is not None
    assert record.status is CommandStatus.DONE
    attempts = await store.attempts(record.command_id)
    assert [(a.attempt, a.outcome, a.error) for a in attempts] == [
        (1, "retryable", "erp busy"),
        (2, "retryable", "erp busy"),
    ]
    assert _metric(pool.metrics, "crossdock_command_attempts_total", outcome="retry") == 2


async def test_retryable_failure_out_of_attempts_becomes_a_dead_letter(
    store: SQLiteStore,
) -> None:
    await store.enqueue(_command(1, max_attempts=2))

    async def handler(claim: ClaimedCommand) -> None:
        raise RetryableError("still down", retry_after=0.01)

    pool = WorkerPool(store, {"erp": handler}, _config())
    await _run(pool)

    (dead,) = await store.list_dead_letters()
    assert [a.error for a in dead.attempts] == ["still down", "still down"]
    assert _metric(pool.metrics, "crossdock_dead_letters_total", destination="erp") == 1


async def test_permanent_failure_is_dead_lettered_with_its_reason(store: SQLiteStore) -> None:
    await store.enqueue(_command(1))

    async def handler(claim: ClaimedCommand) -> None:
        raise PermanentError("unknown customer", detail="no such id C-9")

    pool = WorkerPool(store, {"erp": handler}, _config())
    await _run(pool)

    (dead,) = await store.list_dead_letters()
    assert dead.reason == "unknown customer"
    assert dead.attempts[0].error == "unknown customer: no such id C-9"
    assert _metric(pool.metrics, "crossdock_dead_letters_total", destination="erp") == 1


async def test_a_crashing_handler_never_kills_the_worker(store: SQLiteStore) -> None:
    await store.enqueue(*(_command(n) for n in range(6)))

    async def handler(claim: ClaimedCommand) -> None:
        if claim.command.payload["n"] % 2 and claim.attempt == 1:
            raise ZeroDivisionError("bug in the mapping")

    pool = WorkerPool(store, {"erp": handler}, _config())
    await _run(pool)

    assert pool.completed == 6
    record = await store.find_command("cmd-erp-1")
    assert record is not None
    (first,) = await store.attempts(record.command_id)
    assert first.outcome == "retryable"
    assert first.error is not None
    assert first.error.startswith("ZeroDivisionError: bug in the mapping")
    assert "test_workers.py" in first.error  # the traceback summary names the frame


async def test_a_crash_summary_never_keeps_a_registered_secret(store: SQLiteStore) -> None:
    await store.enqueue(_command(1, max_attempts=1))
    register_secret("sk_live_0123456789")

    async def handler(claim: ClaimedCommand) -> None:
        raise RuntimeError("401 for key sk_live_0123456789")

    try:
        await _run(WorkerPool(store, {"erp": handler}, _config()))
    finally:
        secret_registry.clear()

    (dead,) = await store.list_dead_letters()
    (attempt,) = dead.attempts
    assert attempt.error is not None
    assert "sk_live_0123456789" not in attempt.error
    assert f"401 for key {REDACTED}" in attempt.error


async def test_a_long_handler_keeps_its_lease(store: SQLiteStore) -> None:
    await store.enqueue(_command(1))
    rival_claims: list[ClaimedCommand] = []

    async def handler(claim: ClaimedCommand) -> None:
        for _ in range(8):  # four leases long, with a rival trying to take it over
            await asyncio.sleep(0.1)
            rival_claims.extend(await store.claim("rival", limit=1, lease_seconds=5))

    config = _config(lease_seconds=0.2, extend_every=0.05)
    pool = WorkerPool(store, {"erp": handler}, config)
    await _run(pool)

    assert rival_claims == []
    record = await store.find_command("cmd-erp-1")
    assert record is not None
    assert (record.status, record.attempts) == (CommandStatus.DONE, 1)
    assert _metric(pool.metrics, "crossdock_lease_lost_total") == 0


async def test_a_late_completion_is_refused_logged_and_counted(store: SQLiteStore) -> None:
    await store.enqueue(_command(1))
    taken_over = asyncio.Event()

    async def slow(claim: ClaimedCommand) -> None:
        await taken_over.wait()

    async def rival(claim: ClaimedCommand) -> None:
        taken_over.set()

    slow_pool = WorkerPool(
        store,
        {"erp": slow},
        _config(concurrency=1, lease_seconds=0.1, extend_every=60, worker_id="slow"),
    )
    rival_pool = WorkerPool(store, {"erp": rival}, _config(worker_id="rival"))
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        slow_run = asyncio.create_task(_run(slow_pool))
        await asyncio.sleep(0.15)  # let the slow worker's lease run out
        await _run(rival_pool)
        await slow_run

    assert (slow_pool.completed, rival_pool.completed) == (0, 1)
    record = await store.find_command("cmd-erp-1")
    assert record is not None
    assert (record.status, record.token) == (CommandStatus.DONE, 2)
    lost = [e for e in logs if e["event"] == "lease_lost"]
    assert [(e["operation"], e["fencing_token"], e["worker"]) for e in lost] == [
        ("complete", 1, "slow")
    ]
    assert _metric(slow_pool.metrics, "crossdock_lease_lost_total", operation="complete") == 1


async def test_shutdown_lets_in_flight_handlers_finish_within_the_grace(
    store: SQLiteStore,
) -> None:
    await store.enqueue(*(_command(n) for n in range(3)))
    started = asyncio.Event()

    async def handler(claim: ClaimedCommand) -> None:
        started.set()
        await asyncio.sleep(0.05)

    pool = WorkerPool(store, {"erp": handler}, _config(stop_when_empty=False, grace_seconds=10))
    run = asyncio.create_task(_run(pool))
    await started.wait()
    pool.request_stop()
    await run

    assert pool.completed == 3  # all three were claimed in one batch and allowed to finish
    assert await store.queue_depth() == {}


async def test_shutdown_releases_what_outlives_the_grace(store: SQLiteStore) -> None:
    await store.enqueue(*(_command(n) for n in range(3)))
    started: list[int] = []
    all_started = asyncio.Event()

    async def stuck(claim: ClaimedCommand) -> None:
        started.append(claim.command_id)
        if len(started) == 3:
            all_started.set()
        await asyncio.Event().wait()

    pool = WorkerPool(store, {"erp": stuck}, _config(stop_when_empty=False, grace_seconds=0.05))
    run = asyncio.create_task(_run(pool))
    await all_started.wait()
    pool.request_stop()
    await run

    assert _metric(pool.metrics, "crossdock_command_attempts_total", outcome="released") == 3
    # Released claims are claimable at once by another worker, and the attempt is not counted.
    claims = await store.claim("next", limit=10, lease_seconds=5)
    assert sorted(c.command_id for c in claims) == sorted(started)
    assert {c.attempt for c in claims} == {1}


async def test_sigterm_begins_a_graceful_shutdown(store: SQLiteStore) -> None:
    await store.enqueue(_command(1))
    started = asyncio.Event()

    async def handler(claim: ClaimedCommand) -> None:
        started.set()
        await asyncio.sleep(0.05)

    pool = WorkerPool(store, {"erp": handler}, _config(stop_when_empty=False))
    pool.install_signal_handlers()
    run = asyncio.create_task(_run(pool))
    await started.wait()
    os.kill(os.getpid(), signal.SIGTERM)
    await run

    assert pool.completed == 1
    assert not pool._signals  # the loop's handlers are removed again


async def test_notify_wakes_an_idle_pool(store: SQLiteStore) -> None:
    done = asyncio.Event()

    async def handler(claim: ClaimedCommand) -> None:
        done.set()

    # Idle waits of a minute: only the wake-up hint can make it claim within the test.
    config = _config(stop_when_empty=False, idle_min_seconds=60, idle_max_seconds=60)
    pool = WorkerPool(store, {"erp": handler}, config)
    run = asyncio.create_task(pool.run())
    await asyncio.sleep(0.05)  # let it find the queue empty and go idle
    await store.enqueue(_command(1))
    pool.notify()
    await asyncio.wait_for(done.wait(), timeout=30)
    pool.request_stop()
    await run
    assert pool.completed == 1


async def test_queue_depth_is_sampled_into_the_metrics(store: SQLiteStore) -> None:
    await store.enqueue(*(_command(n, "wms") for n in range(4)))
    sampled = asyncio.Event()

    async def handler(claim: ClaimedCommand) -> None:
        await sampled.wait()

    pool = WorkerPool(store, {"erp": handler}, _config(stop_when_empty=False, depth_every=0.01))
    run = asyncio.create_task(pool.run())
    for _ in range(500):
        if _metric(pool.metrics, "crossdock_queue_depth", destination="wms") == 4:
            break
        await asyncio.sleep(0.01)
    sampled.set()
    pool.request_stop()
    await run
    assert _metric(pool.metrics, "crossdock_queue_depth", destination="wms") == 4
    assert _metric(pool.metrics, "crossdock_queue_depth", destination="erp") == 0


def test_a_pool_needs_a_handler(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one destination"):
        WorkerPool(SQLiteStore(tmp_path / "x.db"), {})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"batch_size": 0}, "batch_size"),
        ({"lease_seconds": 0}, "lease_seconds"),
        ({"extend_every": -1.0}, "extend_every"),
        ({"idle_min_seconds": 2.0, "idle_max_seconds": 1.0}, "idle_min_seconds"),
    ],
)
def test_invalid_configs_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerConfig(**kwargs)  # type: ignore[arg-type]


async def test_a_lease_that_ran_out_is_reported_by_extend_and_by_complete(
    store: SQLiteStore,
) -> None:
    await store.enqueue(_command(1))

    async def handler(claim: ClaimedCommand) -> None:
        if claim.attempt == 1:
            await asyncio.sleep(0.5)  # outlives a 0.1 s lease whose extension comes too late

    config = _config(concurrency=1, lease_seconds=0.1, extend_every=0.3)
    pool = WorkerPool(store, {"erp": handler}, config)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await _run(pool)

    lost = [(e["operation"], e["attempt"]) for e in logs if e["event"] == "lease_lost"]
    assert lost == [("extend", 1), ("complete", 1)]
    record = await store.find_command("cmd-erp-1")
    assert record is not None
    assert (record.status, record.attempts) == (CommandStatus.DONE, 2)
    assert _metric(pool.metrics, "crossdock_lease_lost_total", operation="extend") == 1
    assert _metric(pool.metrics, "crossdock_lease_lost_total", operation="complete") == 1
