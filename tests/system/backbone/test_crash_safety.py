"""Crash safety: workers killed with SIGKILL at random points still give exactly-once effects.

A worker subprocess performs 5,000 commands (50 partition keys) against the recording sink, an
idempotent HTTP API in its own process. It is killed ten times: half of the kills by a hook
that SIGKILLs the worker right after the sink's reply and before the completion is committed,
half by the test at a random moment. After the kills a drain finishes the queue, and then
every command is done in the store, every command has exactly one effect at the sink (the
redone calls arrive as duplicates of a key, never as a second effect), and within each
partition key the effects happened in enqueue order.

Each test prints its seed; rerun a failure with CROSSDOCK_TEST_SEED=<seed>.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Awaitable

import pytest

from .conftest import (
    Sink,
    WorkerProcess,
    Workers,
    assert_exactly_once_in_order,
    enqueue_workload,
)

COMMANDS = 5_000
PARTITIONS = 50
KILLS = 10
LEASE = "1.0"
MAX_REPLIES_BEFORE_KILL = 250

pytestmark = pytest.mark.system


async def _one_worker_killed_repeatedly(workers: Workers, sink: Sink, rng: random.Random) -> int:
    """Run one worker at a time and SIGKILL it `KILLS` times; return the reply-hook kills."""
    modes = ["after-reply"] * (KILLS // 2) + ["at-random"] * (KILLS - KILLS // 2)
    rng.shuffle(modes)
    for round_number, mode in enumerate(modes, start=1):
        name = f"run-{round_number:02d}-{mode}"
        left = modes[round_number - 1 :]
        if mode == "after-reply":
            replies = rng.randint(1, MAX_REPLIES_BEFORE_KILL)
            worker = await workers.start(
                "--lease", LEASE, "--kill-after-replies", str(replies), name=name
            )
        else:
            worker = await workers.start("--lease", LEASE, name=name)
            # Keep enough work for the rounds still to come, whatever the machine's speed.
            remaining = COMMANDS - await sink.effects()
            reserve = MAX_REPLIES_BEFORE_KILL * left.count("after-reply")
            budget = max(20, (remaining - reserve) // (left.count("at-random") + 1))
            await sink.random_point(rng, 0.4, 2.5, budget)
            worker.kill()
        code = await worker.wait(within=60)
        assert code == -signal.SIGKILL, f"{name} ended with {code}:\n{worker.tail()}"
    return modes.count("after-reply")


async def _drain(workers: Workers, processes: int = 1) -> None:
    drains = [
        await workers.start("--lease", LEASE, "--stop-when-empty", name=f"drain-{n}")
        for n in range(1, processes + 1)
    ]
    for drain in drains:
        code = await drain.wait(within=90)
        assert code == 0, f"{drain.name} ended with {code}:\n{drain.tail()}"


def _summary(label: str, started: float, report: dict[str, object], kills: int) -> None:
    print(
        f"{label}: {COMMANDS} commands, {kills} kills, {report['effects']} effects, "
        f"{report['attempts']} sink calls ({report['duplicates']} duplicates) "
        f"in {time.monotonic() - started:.1f} s"
    )


async def _single_worker_scenario(
    label: str, workers: Workers, sink: Sink, rng: random.Random
) -> None:
    started = time.monotonic()
    workload = await enqueue_workload(workers, COMMANDS, PARTITIONS)
    enqueued = time.monotonic()
    hook_kills = await _one_worker_killed_repeatedly(workers, sink, rng)
    killed = time.monotonic()
    await _drain(workers)
    drained = time.monotonic()
    report = await assert_exactly_once_in_order(workers, sink, workload)
    print(
        f"phases: enqueue {enqueued - started:.1f} s, kills {killed - enqueued:.1f} s, "
        f"drain {drained - killed:.1f} s, checks {time.monotonic() - drained:.1f} s"
    )
    # Each hook kill left an effect without a commit: it was redone, and the sink saw the
    # key again. So the kill window was really exercised.
    assert report["duplicates"] >= hook_kills
    _summary(label, started, report, KILLS)


async def test_sqlite_worker_killed_at_random_points_loses_and_doubles_nothing(
    sqlite_workers: Workers, sink: Sink, rng: random.Random
) -> None:
    await _single_worker_scenario("sqlite", sqlite_workers, sink, rng)


@pytest.mark.postgres
async def test_postgres_worker_killed_at_random_points_loses_and_doubles_nothing(
    postgres_workers: Workers, sink: Sink, rng: random.Random
) -> None:
    await _single_worker_scenario("postgres", postgres_workers, sink, rng)


async def _start_slot(
    workers: Workers, rng: random.Random, slot: int, generation: int
) -> WorkerProcess:
    """Start a worker for a slot; half of them carry the kill-after-reply hook."""
    hook = ["--kill-after-replies", str(rng.randint(1, 60))] if rng.random() < 0.5 else []
    return await workers.start("--lease", LEASE, *hook, name=f"slot{slot}-gen{generation:02d}")


async def _first_exit(slots: list[WorkerProcess], until: Awaitable[None]) -> int | None:
    """Return the slot of a worker that ended before `until` finished, or None."""
    waits = {asyncio.ensure_future(w.process.wait()): n for n, w in enumerate(slots)}
    timer = asyncio.ensure_future(until)
    done, pending = await asyncio.wait([*waits, timer], return_when=asyncio.FIRST_COMPLETED)
    for future in pending:
        future.cancel()
    return min((waits[f] for f in done if f in waits), default=None)


@pytest.mark.postgres
async def test_three_postgres_workers_killed_at_random_lose_and_double_nothing(
    postgres_workers: Workers, sink: Sink, rng: random.Random
) -> None:
    started = time.monotonic()
    workers = postgres_workers
    workload = await enqueue_workload(workers, COMMANDS, PARTITIONS)
    slots = [await _start_slot(workers, rng, slot, 0) for slot in range(3)]
    hook_kills = 0
    for kill in range(1, KILLS + 1):
        budget = max(20, (COMMANDS - await sink.effects()) // (KILLS - kill + 2))
        slot = await _first_exit(slots, sink.random_point(rng, 0.2, 1.5, budget))
        if slot is not None:  # a hook fired: dead right after a reply, before its commit
            hook_kills += 1
        else:
            slot = rng.randrange(3)
            slots[slot].kill()
        code = await slots[slot].wait(within=30)
        assert code == -signal.SIGKILL, f"{slots[slot].name} ended with {code}"
        slots[slot] = await _start_slot(workers, rng, slot, kill)
    # The survivors shut down gracefully (finishing or releasing their claims); a hook
    # worker may still fire first, which is one more kill.
    for worker in slots:
        if worker.process.returncode is None:
            # SIGTERM is a graceful stop only once the worker has installed its handler.
            with contextlib.suppress(AssertionError):
                await worker.wait_for_log("pool_started", within=30)
        if worker.process.returncode is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in slots:
        code = await worker.wait(within=30)
        assert code in (0, -signal.SIGKILL), f"{worker.name} ended with {code}:\n{worker.tail()}"
    await _drain(workers, processes=3)
    report = await assert_exactly_once_in_order(workers, sink, workload)
    assert report["duplicates"] >= hook_kills
    print(f"hook kills: {hook_kills}, kills by the test: {KILLS - hook_kills}")
    _summary("postgres x3", started, report, KILLS)
