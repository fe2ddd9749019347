"""Harness of the crash tests: a seed, the recording sink process, worker processes, stores."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crossdock.backbone.store import Command, CommandStatus, Store
from crossdock.canonical.ids import new_id

SUPPORT = Path(__file__).resolve().parent.parent / "_support"
SINK_SCRIPT = SUPPORT / "recording_sink.py"
WORKER_SCRIPT = SUPPORT / "crash_worker.py"
DESTINATION = "sink"


@pytest.fixture
def seed() -> int:
    """The test's random seed: CROSSDOCK_TEST_SEED when set, else a fresh one, printed."""
    value = int(os.environ.get("CROSSDOCK_TEST_SEED") or random.SystemRandom().randrange(2**32))
    print(f"seed={value} (rerun with CROSSDOCK_TEST_SEED={value})")
    return value


@pytest.fixture
def rng(seed: int) -> random.Random:
    """A random source seeded with the test's seed."""
    return random.Random(seed)


@dataclass
class Sink:
    """The recording sink running in its own process."""

    process: subprocess.Popen[str]
    url: str

    def report(self) -> dict[str, Any]:
        """Return the sink's report: effects, attempts, duplicates and per-partition order."""
        with urllib.request.urlopen(f"{self.url}/report", timeout=30) as response:
            report: dict[str, Any] = json.load(response)
        return report

    async def effects(self) -> int:
        """Return the number of effects so far (without the per-key detail)."""

        def fetch() -> int:
            with urllib.request.urlopen(f"{self.url}/count", timeout=30) as response:
                return int(json.load(response)["effects"])

        return await asyncio.to_thread(fetch)

    async def random_point(
        self, rng: random.Random, earliest: float, latest: float, budget: int
    ) -> None:
        """Wait a random time in [earliest, latest] s, cut short once `budget` effects happened.

        The budget keeps a fast machine from finishing the whole workload before the last
        kill, which would leave nothing to interrupt.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + rng.uniform(earliest, latest)
        first = await self.effects()
        while loop.time() < deadline:
            await asyncio.sleep(0.05)
            if await self.effects() - first >= budget:
                return


@pytest.fixture
def sink() -> Iterator[Sink]:
    """Start the recording sink on 127.0.0.1 (a random port) and stop it afterwards."""
    process = subprocess.Popen(
        [sys.executable, str(SINK_SCRIPT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the recording sink did not start (exit {process.wait()})")
        port = json.loads(line)["port"]
        yield Sink(process, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@dataclass
class WorkerProcess:
    """One crash-worker subprocess with its log file."""

    process: asyncio.subprocess.Process
    log_path: Path
    name: str

    async def wait(self, within: float) -> int:
        """Wait for the process to end and return its exit code (negative: killed by a signal)."""
        return await asyncio.wait_for(self.process.wait(), timeout=within)

    async def wait_for_log(self, event: str, within: float) -> None:
        """Wait until the worker logged `event` (for example ``pool_started``)."""
        async with asyncio.timeout(within):
            while not any(line.get("event") == event for line in self.log_lines()):
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} ended before {event}:\n{self.tail()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process (no clean-up of any kind)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    def log_lines(self) -> list[dict[str, Any]]:
        """Return the JSON log lines the worker wrote (other lines are skipped)."""
        lines = []
        for raw in self.log_path.read_text(encoding="utf-8").splitlines():
            if raw.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):  # a line still being written
                    lines.append(json.loads(raw))
        return lines

    def tail(self, n: int = 20) -> str:
        """Return the last lines of the log, for failure messages."""
        return "\n".join(self.log_path.read_text(encoding="utf-8").splitlines()[-n:])


@dataclass
class Workers:
    """Starts crash workers against one store and the sink."""

    backend: str
    target: str
    sink_url: str
    tmp: Path
    schema: str | None = None
    started: list[WorkerProcess] = field(default_factory=list)

    async def start(self, *extra: str, name: str | None = None) -> WorkerProcess:
        """Start one worker process with extra command-line options."""
        label = name or f"worker-{len(self.started) + 1}"
        log_path = self.tmp / f"{label}.log"
        args = [
            str(WORKER_SCRIPT),
            "--backend",
            self.backend,
            "--target",
            self.target,
            "--sink",
            self.sink_url,
            "--worker-id",
            label,
            *(["--schema", self.schema] if self.schema else []),
            *extra,
        ]
        with log_path.open("w", encoding="utf-8") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *args, stdout=log, stderr=subprocess.STDOUT
            )
        worker = WorkerProcess(process, log_path, label)
        self.started.append(worker)
        return worker

    def kill_all(self) -> None:
        """SIGKILL every worker still running (test clean-up)."""
        for worker in self.started:
            worker.kill()


@pytest.fixture
async def sqlite_workers(tmp_path: Path, sink: Sink) -> AsyncIterator[Workers]:
    """Crash workers on a fresh SQLite file."""
    workers = Workers("sqlite", str(tmp_path / "hub.db"), sink.url, tmp_path)
    try:
        yield workers
    finally:
        workers.kill_all()


@pytest.fixture
async def postgres_workers(tmp_path: Path, sink: Sink, postgres_url: str) -> AsyncIterator[Workers]:
    """Crash workers on a fresh, uniquely named PostgreSQL schema (dropped afterwards)."""
    schema = f"crash_{new_id().replace('-', '')[-16:]}"
    workers = Workers("postgres", postgres_url, sink.url, tmp_path, schema=schema)
    try:
        yield workers
    finally:
        workers.kill_all()
        for worker in workers.started:
            if worker.process.returncode is None:
                await worker.process.wait()
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def open_store(workers: Workers) -> Store:
    """Open the store the workers use, from the test process."""
    if workers.backend == "sqlite":
        from crossdock.backbone.sqlite import SQLiteStore

        return SQLiteStore(workers.target, synchronous="NORMAL")
    from crossdock.backbone.postgres import PostgresStore

    return PostgresStore(workers.target, schema=workers.schema)


@dataclass(frozen=True)
class Workload:
    """The commands enqueued for a crash test."""

    keys: list[str]
    seqs_by_partition: dict[str, list[int]]


async def enqueue_workload(workers: Workers, count: int, partitions: int) -> Workload:
    """Enqueue `count` commands spread over `partitions` keys, then close the store."""
    store = open_store(workers)
    await store.start()
    keys: list[str] = []
    seqs: dict[str, list[int]] = {}
    try:
        commands = []
        for n in range(count):
            partition = f"p{n % partitions:03d}"
            seq = len(seqs.setdefault(partition, []))
            seqs[partition].append(seq)
            key = f"effect-{n:05d}"
            keys.append(key)
            commands.append(
                Command(
                    idempotency_key=key,
                    destination=DESTINATION,
                    kind="effect.record",
                    payload={"seq": seq},
                    partition_key=partition,
                    correlation_id=f"corr-{n:05d}",
                )
            )
        for start in range(0, count, 500):
            created = await store.enqueue(*commands[start : start + 500])
            assert all(e.created for e in created)
    finally:
        await store.close()
    return Workload(keys, seqs)


async def assert_exactly_once_in_order(
    workers: Workers, sink: Sink, workload: Workload
) -> dict[str, Any]:
    """Check none lost (all done in the store), one effect each, and per-partition order."""
    store = open_store(workers)
    await store.start()
    try:
        assert await store.queue_depth() == {}
        assert await store.list_dead_letters() == []
        for key in workload.keys:
            record = await store.find_command(key)
            assert record is not None, f"command {key} is missing from the store"
            assert record.status is CommandStatus.DONE, f"{key} is {record.status}"
    finally:
        await store.close()
    report = sink.report()
    assert report["malformed"] == 0
    assert report["effects"] == len(workload.keys)
    assert sorted(report["attempts_per_key"]) == sorted(workload.keys)
    assert report["order"] == workload.seqs_by_partition
    return report
