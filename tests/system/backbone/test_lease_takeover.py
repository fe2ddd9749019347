"""A paused lease holder loses its claim, and its late completion is refused.

Worker A claims a command under a two-second lease, calls the sink, and is frozen with SIGSTOP
right after the reply, before it completes. Once its lease has run out, worker B takes the
command over (a new fencing token), calls the sink again (a duplicate key, no second effect)
and completes it. Then A is resumed with SIGCONT: its completion, carrying the old token, is
refused with `LeaseLost`, which A logs and counts without crashing. The store shows one
completion, with B's token.

Needs two worker processes on one store, so it runs on PostgreSQL (an SQLite file admits one
hub process: a second one is refused with `StoreLocked`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from crossdock.backbone.store import CommandStatus

from .conftest import Sink, Workers, enqueue_workload, open_store

pytestmark = [pytest.mark.system, pytest.mark.postgres]


async def _wait_for_file(path: Path, within: float) -> None:
    # Another process creates the file: there is no event to wait on, so poll.
    async with asyncio.timeout(within):
        while not await asyncio.to_thread(path.exists):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_paused_lease_holder_cannot_complete_after_a_takeover(
    postgres_workers: Workers, sink: Sink, seed: int, tmp_path: Path
) -> None:
    workers = postgres_workers
    workload = await enqueue_workload(workers, 1, 1)
    (key,) = workload.keys
    replied = tmp_path / "a-replied"
    report_a = tmp_path / "a-report.json"

    # A: a 2 s lease, no extension before it completes, and a 1.5 s pause after the reply
    # (the window in which the test freezes it): without the SIGSTOP it would complete
    # within its lease.
    a = await workers.start(
        "--lease", "2.0", "--extend-every", "30", "--concurrency", "1",
        "--pause-after-reply", "1.5", "--marker", str(replied),
        "--stop-when-empty", "--report", str(report_a),
        name="worker-a",
    )  # fmt: skip
    await _wait_for_file(replied, within=30)
    os.kill(a.process.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(2.5)  # A's lease runs out while it is frozen
        b = await workers.start("--lease", "5.0", "--stop-when-empty", name="worker-b")
        assert await b.wait(within=60) == 0, b.tail()
    finally:
        os.kill(a.process.pid, signal.SIGCONT)
    assert await a.wait(within=60) == 0, a.tail()

    # The store: done once, by B's claim (token 2); A's attempt is recorded as a lost lease.
    store = open_store(workers)
    await store.start()
    try:
        record = await store.find_command(key)
        assert record is not None
        assert (record.status, record.token, record.attempts) == (CommandStatus.DONE, 2, 2)
        attempts = await store.attempts(record.command_id)
        assert [(x.worker, x.token, x.outcome) for x in attempts] == [
            ("worker-a", 1, "lease_expired")
        ]
    finally:
        await store.close()

    completed_b = [e for e in b.log_lines() if e.get("event") == "command_completed"]
    assert [(e["idempotency_key"], e["fencing_token"]) for e in completed_b] == [(key, 2)]
    lost_a = [e for e in a.log_lines() if e.get("event") == "lease_lost"]
    assert [(e["operation"], e["fencing_token"], e["correlation_id"]) for e in lost_a] == [
        ("complete", 1, "corr-00000")
    ]
    assert not [e for e in a.log_lines() if e.get("event") == "command_completed"]
    report = json.loads(report_a.read_text())
    assert report["completed"] == 0
    assert (
        'crossdock_lease_lost_total{destination="sink",operation="complete"} 1.0'
        in report["metrics"]
    )

    effects = sink.report()
    assert (effects["effects"], effects["attempts"], effects["duplicates"]) == (1, 2, 1)
