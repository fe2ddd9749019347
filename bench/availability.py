"""Benchmark of the availability read model and its HTTP API.

Run: ``.venv/bin/python bench/availability.py [--quick] [--rates 1000,2500,5000]``

Measures in one run:
  (a) rebuild: events per second a fresh read model applies from an SQLite event log at start;
  (b) in-process lookup latency (p50/p99/p99.9 of `AvailabilityReadModel.lookup`, one call
      timed at a time; the timer's own cost is included; target p99 <= 50 us);
  (c) HTTP lookup latency over loopback against the real API (`create_app(...,
      availability=model)`) served by uvicorn in a SUBPROCESS, OPEN LOOP: requests are
      scheduled at a constant rate independent of responses and each latency is measured from
      its scheduled send time (no coordinated omission), over keep-alive connections; target
      p99 <= 2 ms at >= 5,000 requests per second.
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from crossdock.availability import AvailabilityReadModel
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType
from crossdock.canonical.inventory import InventoryLevel

LOCATIONS = ("WH1", "WH2")
T = TypeVar("T")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))]

    return {"p50": at(0.50), "p99": at(0.99), "p999": at(0.999), "max": ordered[-1], "n": n}


def _events(skus: int) -> list[Event]:
    events = []
    for i in range(skus):
        for j, location in enumerate(LOCATIONS):
            level = InventoryLevel(
                sku=f"SKU-{i:06d}",
                location=location,
                on_hand=100 + i % 50,
                available=90 + i % 50,
                as_of=T0 + timedelta(seconds=i * 2 + j),
                source="netsuite",
            )
            events.append(
                Event(
                    source="netsuite",
                    type=EventType.INVENTORY_CHANGED.value,
                    subject=f"{level.sku}@{location}",
                    correlationid="bench",
                    time=level.as_of,
                    data=level.model_dump(mode="json"),
                )
            )
    return events


async def prepare(path: Path, skus: int) -> dict[str, float]:
    """Write the event log, then rebuild a model from it (a) and time lookups (b)."""
    store = SQLiteStore(path, synchronous="NORMAL")
    await store.start()
    try:
        events = _events(skus)
        for start in range(0, len(events), 1000):
            await store.append_events(*events[start : start + 1000])
        model = AvailabilityReadModel(store)
        began = time.perf_counter()
        await model.start()
        rebuild = time.perf_counter() - began
    finally:
        await store.close()
    keys = [(f"SKU-{random.randrange(skus):06d}", random.choice(LOCATIONS)) for _ in range(4096)]
    samples: list[float] = []
    clock = time.perf_counter_ns
    lookup = model.lookup
    for _ in range(2):  # the first round warms up
        samples = []
        for i in range(200_000):
            sku, location = keys[i & 4095]
            before = clock()
            lookup(sku, location)
            samples.append((clock() - before) / 1000)
    p = _percentiles(samples)
    return {
        "events": float(len(events)),
        "rebuild_events_per_s": len(events) / rebuild,
        "lookup_us_p50": p["p50"],
        "lookup_us_p99": p["p99"],
        "lookup_us_p999": p["p999"],
    }


# ---- the server subprocess ---------------------------------------------------------------


async def _serve(path: Path, port: int) -> None:
    import uvicorn

    from crossdock.api import create_app

    store = SQLiteStore(path, read_only=True)  # several server processes read one file
    await store.start()
    model = AvailabilityReadModel(store)
    await model.start()
    gc.freeze()  # the loaded levels are long-lived: keep them out of every collection
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # one port, N processes
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    config = uvicorn.Config(
        create_app(store, {}, availability=model),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    print(listener.getsockname()[1], flush=True)
    try:
        await server.serve(sockets=[listener])
    finally:
        await store.close()


# ---- the open-loop client -----------------------------------------------------------------


async def _connection(
    host: str,
    port: int,
    queue: asyncio.Queue[tuple[float, bytes] | None],
    out: list[float],
    service: list[float],
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while (item := await queue.get()) is not None:
            scheduled, request = item
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done = time.perf_counter()
            out.append((done - scheduled) * 1e6)
            service.append((done - sent) * 1e6)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return errors


async def open_loop(
    port: int, rate: float, seconds: float, skus: int, connections: int
) -> dict[str, float]:
    """Offer `rate` requests per second for `seconds`; latency from each scheduled time."""
    requests = [
        (
            f"GET /v1/availability?sku=SKU-{random.randrange(skus):06d}&location="
            f"{random.choice(LOCATIONS)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        ).encode()
        for _ in range(4096)
    ]
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    service: list[float] = []
    workers = [
        asyncio.create_task(_connection("127.0.0.1", port, queue, latencies, service))
        for _ in range(connections)
    ]
    total = int(rate * seconds)
    interval = 1.0 / rate
    start = time.perf_counter() + 0.05
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - start) / interval) + 1) if now >= start else 0
        while sent < due:
            queue.put_nowait((start + sent * interval, requests[sent & 4095]))
            sent += 1
        await asyncio.sleep(0.0005)
    for _ in workers:
        queue.put_nowait(None)
    errors = sum(await asyncio.gather(*workers))
    elapsed = time.perf_counter() - start
    p = _percentiles(latencies)
    served = _percentiles(service)
    return {
        "service_p99_ms": served["p99"] / 1000,
        "offered_rps": rate,
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": p["p50"] / 1000,
        "p99_ms": p["p99"] / 1000,
        "p999_ms": p["p999"] / 1000,
        "max_ms": p["max"] / 1000,
        "errors": float(errors),
    }


async def http_bench(
    path: Path,
    rates: list[float],
    seconds: float,
    skus: int,
    connections: int,
    processes: int = 1,
) -> list[dict[str, float]]:
    """Start the API in subprocesses (one port) and run the open-loop client at each rate."""
    children: list[asyncio.subprocess.Process] = []
    port = 0
    try:
        for _ in range(processes):
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--serve",
                str(path),
                "--port",
                str(port),
                stdout=asyncio.subprocess.PIPE,
            )
            children.append(child)
            assert child.stdout is not None
            line = await asyncio.wait_for(child.stdout.readline(), timeout=120)
            if not line.strip():
                raise RuntimeError("the API subprocess did not start")
            port = int(line)
        await open_loop(port, min(rates), 1.0, skus, connections)  # warm-up
        return [await open_loop(port, rate, seconds, skus, connections) for rate in rates]
    finally:
        for child in children:
            child.terminate()
            await child.wait()


def _run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed (as uvicorn would), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer SKUs, shorter runs")
    parser.add_argument("--rates", default="1000,2500,5000", help="offered requests per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per rate")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--processes", type=int, default=1, help="API server processes")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _run(_serve(Path(args.serve), args.port))
        return
    skus = 2_000 if args.quick else 20_000
    seconds = 2.0 if args.quick else args.seconds
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "availability.db"
        local = asyncio.run(prepare(path, skus))
        runs = _run(http_bench(path, rates, seconds, skus, args.connections, args.processes))
    print(
        f"in-process: {int(local['events'])} levels, rebuild {local['rebuild_events_per_s']:,.0f}"
    )
    print(
        f"lookup us  p50 {local['lookup_us_p50']:.2f}  p99 {local['lookup_us_p99']:.2f}  "
        f"p99.9 {local['lookup_us_p999']:.2f}  (target p99 <= 50)"
    )
    print(
        f"HTTP open loop over loopback, {args.processes} server process(es), "
        f"{args.connections} connections, {seconds:.0f} s per rate"
    )
    print(
        f"{'offered':>8} {'achieved':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
        f"{'send-recv p99':>14} {'errors':>7}"
    )
    for run in runs:
        print(
            f"{run['offered_rps']:>8.0f} {run['achieved_rps']:>9.0f} {run['p50_ms']:>8.3f} "
            f"{run['p99_ms']:>8.3f} {run['p999_ms']:>9.3f} {run['service_p99_ms']:>14.3f} "
            f"{run['errors']:>7.0f}"
        )
    at_5000 = next((r for r in runs if r["offered_rps"] >= 5000), None)
    results: dict[str, Any] = {
        "bench": "availability",
        "cpus": os.cpu_count(),
        "server_processes": args.processes,
        "skus": skus,
        **{k: round(v, 3) for k, v in local.items()},
        "http": [{k: round(v, 3) for k, v in run.items()} for run in runs],
        "lookup_p99_ok": local["lookup_us_p99"] <= 50,
        "http_p99_ok_at_5000": at_5000 is not None and at_5000["p99_ms"] <= 2.0,
    }
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
