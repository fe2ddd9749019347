"""Serve an ASGI app with uvicorn on a loopback port, in the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from crossdock.sandbox.kit._tls import LocalCA

LOOPBACK = "127.0.0.1"


class _QuietServer(uvicorn.Server):
    # The caller owns the signals (a test, or `crossdock sandbox up` with several servers).
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class RunningServer:
    """A server listening on loopback.

    Attributes:
        base_url: ``http(s)://127.0.0.1:<port>``, no trailing slash.
        port: The bound port.
        ca: The local CA when served over HTTPS (clients trust ``ca.ca_cert``).
    """

    base_url: str
    port: int
    ca: LocalCA | None


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp,
    *,
    port: int = 0,
    tls: LocalCA | None = None,
    log_level: str = "warning",
    shutdown_timeout_s: int = 1,
) -> AsyncIterator[RunningServer]:
    """Run ``app`` on ``127.0.0.1`` until the block exits.

    Args:
        app: The ASGI app (a simulator's ``app``).
        port: The port; 0 lets the OS choose a free one.
        tls: Serve HTTPS with this CA's loopback certificate.
        log_level: uvicorn's log level.
        shutdown_timeout_s: How long open calls (a hanging fault) may delay shutdown.

    Yields:
        The running server with its base URL.
    """
    config = uvicorn.Config(
        app,
        host=LOOPBACK,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=shutdown_timeout_s,
        ssl_certfile=str(tls.server_cert) if tls else None,
        ssl_keyfile=str(tls.server_key) if tls else None,
    )
    server = _QuietServer(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the simulator server stopped before it started")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        scheme = "https" if tls else "http"
        yield RunningServer(f"{scheme}://{LOOPBACK}:{bound}", bound, tls)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def quiet_uvicorn_errors() -> None:
    """Silence uvicorn's error log (an injected connection reset is not an error)."""
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
