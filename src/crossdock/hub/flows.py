"""The flows inside the hub: a `FlowRunner` beside the decode worker, and its availability port.

`HubFlows` builds the flows the governance file enables (`flows_from_governance`) and drives
them with a `FlowRunner` until stopped. After a pass that put new commands in the outbox it wakes
the worker pool, so a decision reaches its system without waiting for the pool's idle poll.

Availability: the flows check and hold stock through the port they are given: in the hub, the
availability read model fed by ERP polling (`crossdock.hub.availability`), never a call to the
ERP. A SKU no source has reported is unknown, which the order flow quarantines.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from structlog.typing import FilteringBoundLogger

from crossdock.backbone.store import StaleFlowState, Store, StoreUnavailable
from crossdock.flows.engine import FlowRunner
from crossdock.flows.order_fulfilment.ports import AvailabilityLookup
from crossdock.flows.registry import flows_from_governance
from crossdock.governance import Governance
from crossdock.observability.logging import get_logger
from crossdock.runtime.errors import RetryableError

__all__ = ["HubFlows"]


def _log() -> FilteringBoundLogger:
    return get_logger("crossdock.hub.flows")


class HubFlows:
    """The flows the governance file enables, driven by one `FlowRunner`.

    Args:
        store: The hub's store.
        governance: The loaded governance file.
        availability: The stock port of the order flow (the hub's `ReservingAvailability`).
        on_commands: Called after a pass that put new commands in the outbox (wake the pool).
        name: The runner's name (its checkpoint key).
        idle_seconds: How long to wait when the log is drained.
    """

    def __init__(
        self,
        store: Store,
        governance: Governance,
        *,
        availability: AvailabilityLookup,
        on_commands: Callable[[], None] | None = None,
        name: str = "hub",
        idle_seconds: float = 0.1,
    ) -> None:
        self.availability = availability
        self.flows = flows_from_governance(governance, availability=availability)
        self.runner = FlowRunner(store, self.flows, name=name)
        self._on_commands = on_commands
        self._idle = idle_seconds
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def names(self) -> list[str]:
        """The names of the flows being driven."""
        return [flow.name for flow in self.flows]

    def notify(self) -> None:
        """Wake an idle runner at once (new events were appended)."""
        self._wake.set()

    def request_stop(self) -> None:
        """Finish the current pass, then return from `run`."""
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        """Drive the flows until `request_stop`; a failed pass is logged and tried again."""
        _log().info("flows started", flows=self.names)
        while not self._stop.is_set():
            self._wake.clear()
            try:
                read = await self.runner.run_once()
            except (StoreUnavailable, StaleFlowState, RetryableError) as exc:
                _log().warning("flow step not committed; retrying", error=str(exc))
                read = 0
            except Exception:
                # A store error the runner did not expect: never end the hub's flows for it.
                _log().exception("flow pass failed; retrying")
                read = 0
            if any(outcome.created for outcome in self.runner.outcomes) and self._on_commands:
                self._on_commands()
            if read == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle)
        _log().info("flows stopped")
