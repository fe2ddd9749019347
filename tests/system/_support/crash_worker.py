"""A worker process for the crash tests: performs commands by POSTing them to the recording sink.

Run as a script (``python crash_worker.py --backend sqlite --target FILE --sink URL ...``). Each
command's payload holds its ``seq`` (enqueue order within its partition); the handler POSTs
``{"key", "partition", "seq"}`` to the sink and returns. Fault hooks:

- ``--kill-after-replies N``: SIGKILL this process right after the sink's N-th reply, before
  the completion is committed (the window where a crash leaves an effect without a commit);
- ``--pause-after-reply S``: sleep S seconds after each reply, before completing (a window in
  which the test SIGSTOPs the process);
- ``--marker FILE``: create FILE after the first reply (so the test knows the window is open).

Logs are JSON lines on standard error. On a clean exit, ``--report FILE`` receives the number
of completed commands and the metrics exposition.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp

from crossdock.backbone.store import ClaimedCommand, Store
from crossdock.observability.logging import configure_logging, get_logger
from crossdock.observability.metrics import HubMetrics, render_metrics
from crossdock.runtime.errors import RetryableError
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--target", required=True, help="SQLite file or PostgreSQL URL")
    p.add_argument("--schema", default=None, help="PostgreSQL schema")
    p.add_argument("--sink", required=True, help="base URL of the recording sink")
    p.add_argument("--destination", default="sink")
    p.add_argument("--worker-id", default=None)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lease", type=float, default=1.0)
    p.add_argument("--extend-every", type=float, default=None)
    p.add_argument("--grace", type=float, default=2.0)
    p.add_argument("--stop-when-empty", action="store_true")
    p.add_argument("--kill-after-replies", type=int, default=0)
    p.add_argument("--pause-after-reply", type=float, default=0.0)
    p.add_argument("--marker", type=Path, default=None)
    p.add_argument("--report", type=Path, default=None)
    return p.parse_args(argv)


def _open_store(args: argparse.Namespace) -> Store:
    if args.backend == "sqlite":
        from crossdock.backbone.sqlite import SQLiteStore

        return SQLiteStore(args.target)
    from crossdock.backbone.postgres import PostgresStore

    return PostgresStore(args.target, schema=args.schema, max_size=8)


class SinkHandler:
    """Performs a command by POSTing it to the sink, with the fault hooks."""

    def __init__(self, args: argparse.Namespace, session: aiohttp.ClientSession) -> None:
        self.args = args
        self.session = session
        self.replies = 0
        self.log = get_logger("crash_worker")

    async def __call__(self, claim: ClaimedCommand) -> HandlerResult:
        command = claim.command
        body = {
            "key": command.idempotency_key,
            "partition": command.partition_key,
            "seq": command.payload["seq"],
        }
        try:
            async with self.session.post(f"{self.args.sink}/effects", json=body) as response:
                reply = await response.json()
                status = response.status
        except aiohttp.ClientError as exc:
            raise RetryableError(f"sink unreachable: {exc}") from exc
        if status >= 500:
            raise RetryableError(f"sink answered {status}")
        self.replies += 1
        self.log.debug("sink_replied", status=status, replayed=reply.get("replayed"))
        if self.replies == self.args.kill_after_replies:
            # The effect happened; the completion is not committed. Die here, hard.
            os.kill(os.getpid(), signal.SIGKILL)
        if self.args.marker is not None and self.replies == 1:
            self.args.marker.touch()
        if self.args.pause_after_reply:
            await asyncio.sleep(self.args.pause_after_reply)
        return HandlerResult(result={"effect_id": reply.get("effect_id")})


async def main(argv: list[str]) -> int:
    args = _parse(argv)
    configure_logging(json=True, stream=sys.stderr)
    store = _open_store(args)
    await store.start()
    metrics = HubMetrics()
    config = WorkerConfig(
        concurrency=args.concurrency,
        batch_size=args.batch,
        lease_seconds=args.lease,
        extend_every=args.extend_every,
        grace_seconds=args.grace,
        idle_min_seconds=0.01,
        idle_max_seconds=0.1,
        depth_every=None,
        stop_when_empty=args.stop_when_empty,
        **({"worker_id": args.worker_id} if args.worker_id else {}),
    )
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            pool = WorkerPool(
                store, {args.destination: SinkHandler(args, session)}, config, metrics=metrics
            )
            pool.install_signal_handlers()
            await pool.run()
    finally:
        await store.close()
    if args.report is not None:
        report = {"completed": pool.completed, "metrics": render_metrics(metrics).decode()}
        args.report.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
