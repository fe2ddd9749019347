"""Benchmark: HTTP calls per second at 32 in flight against a loopback server.

The server runs in a subprocess (its own core): a minimal keep-alive HTTP/1.1 server on raw
asyncio that answers every request with a small JSON body. The client side measures, in turn,
`aiohttp.ClientSession`, `httpx.AsyncClient` and Crossdock's seam (`HttpClient` on
`AiohttpTransport`), each with `--concurrency` calls in flight for `--seconds` per round, and
reports the median round. Prints a table and, last, one JSON line.

Run: ``.venv/bin/python bench/http_client.py [--seconds 3] [--rounds 3] [--concurrency 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from crossdock.connectorkit.http import AiohttpTransport, HttpClient

TARGET_CALLS_PER_SECOND = 3000
_BODY = b'{"ok":true,"price":"12.50"}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class _HttpServerProtocol(asyncio.Protocol):
    """Keep-alive HTTP/1.1: answers each complete request (headers + Content-Length body)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self._buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            assert self._transport is not None
            self._transport.write(_RESPONSE)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_HttpServerProtocol, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


async def _measure(call: Callable[[], Awaitable[None]], concurrency: int, seconds: float) -> float:
    stop = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def _run_client(
    name: str, url: str, concurrency: int, seconds: float, rounds: int
) -> list[float]:
    if name == "aiohttp.ClientSession":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def call() -> None:
            async with session.get(url) as response:
                await response.read()
                assert response.status == 200

        close: Callable[[], Awaitable[None]] = session.close
    elif name == "httpx.AsyncClient":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        client = httpx.AsyncClient(limits=limits, timeout=30.0)

        async def call() -> None:
            response = await client.get(url)
            assert response.status_code == 200

        close = client.aclose
    else:
        seam = HttpClient(AiohttpTransport(pool_size=concurrency), default_timeout=30.0)

        async def call() -> None:
            response = await seam.request("GET", url)
            assert response.status == 200

        close = seam.aclose
    try:
        await _measure(call, concurrency, min(1.0, seconds))  # warm-up: open the pool
        return [await _measure(call, concurrency, seconds) for _ in range(rounds)]
    finally:
        await close()


async def _bench(args: argparse.Namespace) -> dict[str, object]:
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/bench?sku=ABC-1"
        names = ["aiohttp.ClientSession", "httpx.AsyncClient", "crossdock HttpClient (aiohttp)"]
        results: dict[str, list[float]] = {}
        for name in names:
            results[name] = await _run_client(
                name, url, args.concurrency, args.seconds, args.rounds
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"HTTP client benchmark: {args.concurrency} in flight, {args.rounds} rounds of "
        f"{args.seconds:g} s, loopback server in a subprocess"
    )
    print(f"{'client':34} {'median calls/s':>15} {'min':>8} {'max':>8}")
    for name, rates in results.items():
        print(f"{name:34} {statistics.median(rates):15.0f} {min(rates):8.0f} {max(rates):8.0f}")
    seam = statistics.median(results[names[2]])
    return {
        "benchmark": "http_client",
        "concurrency": args.concurrency,
        "seconds_per_round": args.seconds,
        "rounds": args.rounds,
        "calls_per_second": {n: round(statistics.median(r)) for n, r in results.items()},
        "target_calls_per_second": TARGET_CALLS_PER_SECOND,
        "seam_meets_target": seam >= TARGET_CALLS_PER_SECOND,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return
    print(json.dumps(asyncio.run(_bench(args))))


if __name__ == "__main__":
    main()
