"""The ASGI middleware that applies injected faults and logs every business call."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crossdock.sandbox.kit._faults import FaultAction, FaultDecision
from crossdock.sandbox.kit._requests import RequestRecord

if TYPE_CHECKING:
    from crossdock.sandbox.kit._simulator import Simulator

ADMIN_PREFIX = "/_sandbox"
EXTRA_HEADERS_KEY = "crossdock.sandbox.extra_headers"


class SandboxMiddleware:
    """Wraps a simulator's app: faults and the request log for every call outside ``/_sandbox``."""

    def __init__(self, app: ASGIApp, simulator: Simulator) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        sim = self.simulator
        seq = sim.requests.next_seq()
        started = time.perf_counter()
        decision = sim.faults.decide()
        extra: list[tuple[bytes, bytes]] = []
        scope[EXTRA_HEADERS_KEY] = extra
        status: list[int] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                if extra:
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self._apply(decision, scope, receive, send_with_headers)
        finally:
            sim.requests.add(
                RequestRecord(
                    seq=seq,
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status[0] if status else None,
                    fault=decision.action.value,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    idempotency_key=_header(scope, b"idempotency-key"),
                )
            )

    async def _apply(
        self, decision: FaultDecision, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if decision.delay_s:
            await asyncio.sleep(decision.delay_s)
        action = decision.action
        phase_after = self.simulator.faults.spec.fault_phase == "after"
        if action in (FaultAction.ERROR, FaultAction.HANG) and phase_after:
            # The effect happens, then the answer is lost: an ambiguous outcome to settle.
            await self.app(scope, receive, _discard)
        if action is FaultAction.PASS:
            await self.app(scope, receive, send)
        elif action in (FaultAction.ERROR, FaultAction.OUTAGE):
            response = self.simulator.error_response(decision.status or 500)
            await response(scope, receive, send)
        elif action is FaultAction.HANG:
            await _hang(receive)
        elif not await _reset(receive):
            # No socket to reset (an in-process transport): the outage answers 503 instead.
            await self.simulator.error_response(503)(scope, receive, send)


async def _discard(_: Message) -> None:
    return None


async def _hang(receive: Receive) -> None:
    # Answer nothing until the client goes away.
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _reset(receive: Receive) -> bool:
    # uvicorn's `receive` is a bound method of its request cycle, which holds the transport.
    cycle: Any = getattr(receive, "__self__", None)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0: close with a TCP RST, as a crashed peer or a load balancer would.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    if hasattr(cycle, "disconnected"):
        # Tell uvicorn the peer is gone, so that it does not try to answer a 500.
        cycle.disconnected = True
    await asyncio.sleep(0)
    return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
