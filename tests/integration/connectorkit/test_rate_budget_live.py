"""Real time, real server: a server that enforces its limit never answers 429 to the hub."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crossdock.connectorkit import Connector
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.runtime.resilience import WindowBudget

LIMIT, WINDOW = 20, 1.0


class EnforcingServer:
    """Counts arrivals in a sliding window and refuses the one over the limit with 429."""

    def __init__(self) -> None:
        self.arrivals: deque[float] = deque()
        self.accepted = 0
        self.rejected = 0

    async def handle(self, request: Request) -> Response:
        now = time.monotonic()
        while self.arrivals and self.arrivals[0] <= now - WINDOW:
            self.arrivals.popleft()
        if len(self.arrivals) >= LIMIT:
            self.rejected += 1
            return JSONResponse({"error": "rate"}, 429, {"Retry-After": "1"})
        self.arrivals.append(now)
        self.accepted += 1
        await asyncio.sleep(0.005)
        return JSONResponse({"ok": True}, headers={"X-Rate-Limit-Limit": str(LIMIT)})


class Limited(Connector):
    system = "limited"


async def test_a_window_budget_never_draws_a_429_from_an_enforcing_server(
    serve: Callable[[Any], Any],
) -> None:
    server = EnforcingServer()
    app = Starlette(routes=[Route("/call", server.handle, methods=["POST"])])
    async with serve(app) as base_url:
        http = HttpClient(AiohttpTransport(), default_timeout=5)
        budget = WindowBudget("limited", limit=LIMIT, window=WINDOW)
        connector = Limited(http=http, base_url=base_url, rate_budget=budget)
        backlog = asyncio.Queue[int]()
        for i in range(3 * LIMIT + 5):
            backlog.put_nowait(i)

        async def worker() -> None:
            while not backlog.empty():
                backlog.get_nowait()
                await connector.call("POST", "/call", json={}, idempotent=True)

        try:
            await asyncio.gather(*(worker() for _ in range(16)))
        finally:
            await http.aclose()
    assert server.rejected == 0
    assert server.accepted == 3 * LIMIT + 5
