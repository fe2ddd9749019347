"""A client of the ``/_sandbox`` admin endpoints every simulator answers (over real HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crossdock.connectorkit.http import HttpClient, HttpResponse


class SandboxAdminError(AssertionError):
    """The simulator refused an admin call (a wrong fault spec, say)."""


@dataclass(frozen=True)
class SimulatorRequest:
    """One business call as the simulator logged it.

    Attributes:
        method: HTTP method.
        path: The request path.
        status: The status answered, or None when no answer was sent (a hang, a reset).
        fault: The fault applied: ``pass``, ``error``, ``outage``, ``reset`` or ``hang``.
    """

    method: str
    path: str
    status: int | None
    fault: str


@dataclass(frozen=True)
class Effects:
    """The effect ledger's counts for one business key."""

    attempts: int = 0
    created: int = 0
    duplicates_refused: int = 0
    duplicates_absorbed: int = 0


class SandboxAdmin:
    """Faults, the request log and the effect ledger of one simulator.

    Args:
        http: The HTTP seam to call through.
        base_url: The simulator's base URL.
    """

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.root = f"{base_url.rstrip('/')}/_sandbox"

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response: HttpResponse = await self.http.request(
            method, f"{self.root}{path}", timeout=10.0, **kwargs
        )
        if response.status != 200:
            raise SandboxAdminError(
                f"{method} /_sandbox{path} answered {response.status}: {response.text[:300]}"
            )
        return response.json()

    async def faults(self, **spec: Any) -> None:
        """Inject faults (the fields of the kit's ``FaultSpec``)."""
        await self._call("POST", "/faults", json=spec)

    async def clear_faults(self) -> None:
        """Remove every fault."""
        await self._call("DELETE", "/faults")

    async def requests(self) -> list[SimulatorRequest]:
        """Every business call logged so far, oldest first (admin calls are not logged)."""
        body = await self._call("GET", "/requests")
        return [
            SimulatorRequest(
                method=str(r["method"]),
                path=str(r["path"]),
                status=r["status"] if isinstance(r["status"], int) else None,
                fault=str(r["fault"]),
            )
            for r in body["requests"]
        ]

    async def effects(self, kind: str, key: str) -> Effects:
        """The ledger's counts for ``(kind, key)`` (zeros when nothing was recorded)."""
        body = await self._call("GET", "/effects", params={"kind": kind, "key": key})
        found = body["effects"].get(kind, {}).get(key)
        if not isinstance(found, dict):
            return Effects()
        return Effects(
            attempts=int(found["attempts"]),
            created=int(found["created"]),
            duplicates_refused=int(found["duplicates_refused"]),
            duplicates_absorbed=int(found["duplicates_absorbed"]),
        )
