"""Real loopback HTTP servers (uvicorn on 127.0.0.1, port 0) for the connector-kit tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import uvicorn

Serve = Callable[..., AbstractAsyncContextManager[str]]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:  # the test owns the signals
        yield


@contextlib.asynccontextmanager
async def _serve(
    app: Any, *, certfile: str | None = None, keyfile: str | None = None
) -> AsyncIterator[str]:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="critical",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = _Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the test server stopped before it started")
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{'https' if certfile else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def serve() -> Serve:
    """`async with serve(app[, certfile=, keyfile=]) as base_url:` runs an ASGI app on a
    loopback port, over HTTPS when given a certificate."""
    return _serve
