"""Shared by the conformance files: serve a simulator, and catch one of its real deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crossdock.connectorkit.testing import InboundSample, SimulatorEnv
from crossdock.sandbox.kit import Simulator, serve


@asynccontextmanager
async def served(sim: Simulator, **extra: Any) -> AsyncIterator[SimulatorEnv]:
    """Serve `sim` on 127.0.0.1 (a port the OS picks); its credentials plus `extra`.

    The app's shutdown closes the simulator's webhook sender.
    """
    async with serve(sim.app) as server:
        credentials = {**sim.credentials_for(server.base_url), **extra}
        yield SimulatorEnv(server.base_url, credentials, sim)


async def capture_delivery(
    env: SimulatorEnv, trigger: Callable[[], object], *, topic: str | None = None
) -> InboundSample:
    """The first delivery (of `topic`, if given) the simulator sends after `trigger()`.

    A receiver on loopback subscribes through ``/_sandbox/webhooks``; the simulator's own
    sender signs and posts the delivery; the receiver keeps its headers and exact bytes.
    """
    caught: list[InboundSample] = []

    async def receive(request: Request) -> Response:
        caught.append(InboundSample(dict(request.headers), await request.body()))
        return Response(status_code=200)

    receiver = Starlette(routes=[Route("/hooks", receive, methods=["POST"])])
    admin = f"{env.base_url}/_sandbox"
    async with serve(receiver) as hooks, aiohttp.ClientSession() as http:
        subscription: dict[str, Any] = {"address": f"{hooks.base_url}/hooks"}
        if topic is not None:
            subscription["topics"] = [topic]
        async with http.post(f"{admin}/webhooks", json=subscription) as response:
            assert response.status == 201, await response.text()
        trigger()
        async with http.post(f"{admin}/deliveries/drain", params={"timeout_s": "10"}) as response:
            assert response.status == 200, await response.text()
    assert caught, "the simulator sent no delivery"
    return caught[0]
