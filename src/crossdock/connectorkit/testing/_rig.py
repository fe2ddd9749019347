"""The per-test rig: a fresh simulator, an HTTP pool, its admin client and connectors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from crossdock.connectorkit.connector import Connector
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectorkit.testing._admin import SandboxAdmin
from crossdock.connectorkit.testing._spec import ConformanceSpec, ConnectorOptions, SimulatorEnv
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, RateBudget


@dataclass(frozen=True)
class ConformanceRig:
    """What one battery case works with.

    Attributes:
        spec: The connector's spec.
        env: The running simulator.
        http: The HTTP seam every connector of this test shares (a real aiohttp pool).
        admin: The simulator's ``/_sandbox`` client.
    """

    spec: ConformanceSpec
    env: SimulatorEnv
    http: HttpClient
    admin: SandboxAdmin

    def connector(
        self,
        *,
        credentials: Mapping[str, Any] | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        timeout: float | None = None,
    ) -> Connector:
        """A connector aimed at the simulator (the simulator's credentials by default)."""
        options = ConnectorOptions(
            http=self.http,
            credentials=self.env.credentials if credentials is None else credentials,
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
            timeout=timeout,
        )
        return self.spec.connect(self.env, options)

    async def warmed(
        self,
        *,
        breaker: CircuitBreaker | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - passed on to the connector
    ) -> Connector:
        """A connector that has made one good call (its token, if any, is fetched and cached),
        so that faults injected next hit the business call, not the token endpoint."""
        connector = self.connector(breaker=breaker, timeout=timeout)
        await self.spec.probe(connector)
        return connector


@asynccontextmanager
async def open_rig(spec: ConformanceSpec) -> AsyncIterator[ConformanceRig]:
    """Start the spec's simulator and an HTTP pool for one test; stop both on exit."""
    async with spec.start() as env:
        http = HttpClient(AiohttpTransport(), default_timeout=10.0)
        try:
            yield ConformanceRig(spec, env, http, SandboxAdmin(http, env.base_url))
        finally:
            await http.aclose()


async def burst(
    connector: Connector,
    probe: Callable[[Connector], Awaitable[object]],
    total: int,
    workers: int,
) -> list[Exception | None]:
    """Run `probe` `total` times from `workers` concurrent workers sharing `connector`.

    Returns:
        One entry per call: None for a success, else the exception it raised.
    """
    turns = iter(range(total))
    results: list[Exception | None] = []

    async def worker() -> None:
        for _ in turns:
            try:
                await probe(connector)
            except Exception as exc:
                results.append(exc)
            else:
                results.append(None)

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    return results
