"""Start every registered simulator on loopback, each on its own, and merge their manifests.

A simulator that fails to start (one still being written, say) is reported with its reason and
the others run: the demo shows what exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossdock.hub.demo.catalogue import demo_scenarios
from crossdock.sandbox.easypost import EasyPostSimulator
from crossdock.sandbox.kit import (
    MANIFEST_FORMAT,
    Scenario,
    Simulator,
    discovery_errors,
    run_sandbox,
    system_names,
    write_manifest,
)

__all__ = ["CARRIER_CLOCK_SCALE", "DemoSandbox", "start_simulators"]

CARRIER_CLOCK_SCALE = 43_200.0
"""Virtual seconds of the EasyPost simulator's carrier clock per real second in the demo (12
hours: a parcel's scans, about two days of them, arrive within a few seconds)."""
_CLOCK_PERIOD_S = 0.25


@dataclass
class DemoSandbox:
    """The simulators the demo runs.

    Attributes:
        simulators: Simulator objects by system name (in this process).
        manifest: The merged manifest (the format `crossdock sandbox up` writes).
        failed: Simulator name to the reason it is not running.
    """

    simulators: dict[str, Simulator] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


async def _run_carrier_clock(sim: EasyPostSimulator, scale: float) -> None:
    # The simulator's virtual clock moves only when asked; the demo asks on a timer, so parcels
    # move on and their tracker.updated Events reach the hub.
    while True:
        await asyncio.sleep(_CLOCK_PERIOD_S)
        for change in sim.book.advance_clock(_CLOCK_PERIOD_S * scale):
            sim.after_change(change)


async def _stop_task(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _squeeze_retries(sim: Simulator, time_scale: float) -> None:
    # The real retry spacing (Shopify: 8 retries over 4 hours) is far too slow for a demo.
    sender = sim.webhooks
    if sender is not None:
        sender.schedule = dataclasses.replace(sender.schedule, time_scale=time_scale)


async def start_simulators(
    stack: contextlib.AsyncExitStack,
    *,
    names: Sequence[str] | None = None,
    seed: int | None = None,
    manifest_path: Path | None = None,
    retry_time_scale: float = 0.001,
    scenarios: Mapping[str, Scenario] | None = None,
    edi_mailbox: Path | None = None,
    carrier_clock_scale: float | None = CARRIER_CLOCK_SCALE,
) -> DemoSandbox:
    """Start the simulators of `names` (default: every registered one) until `stack` closes.

    Args:
        stack: Owns the running simulators.
        names: The simulators to start.
        seed: Overrides every scenario's seed.
        manifest_path: Where to write the merged manifest (not written when None).
        retry_time_scale: Multiplies every simulator's webhook retry delays.
        scenarios: A scenario per simulator (default: `demo_scenarios`, one shared catalogue).
        edi_mailbox: The EDI 3PL's drop-folder mailbox (with the default scenarios).
        carrier_clock_scale: How fast EasyPost's carrier clock runs (None: it stands still).
    """
    chosen = demo_scenarios(edi_mailbox=edi_mailbox) if scenarios is None else scenarios
    sandbox = DemoSandbox()
    sandbox.failed.update(
        {package: f"cannot load: {reason}" for package, reason in discovery_errors().items()}
    )
    for name in names if names is not None else system_names():
        try:
            running = await stack.enter_async_context(
                run_sandbox(
                    [name],
                    seed=seed,
                    scenarios={name: chosen[name]} if name in chosen else None,
                )
            )
        except Exception as exc:  # one broken simulator must not stop the demo
            sandbox.failed[name] = f"{type(exc).__name__}: {exc}"
            continue
        if not sandbox.manifest:
            sandbox.manifest = {**running.manifest, "systems": {}}
        sandbox.manifest["systems"].update(running.manifest["systems"])
        for sim_name, sim in running.simulators.items():
            _squeeze_retries(sim, retry_time_scale)
            sandbox.simulators[sim_name] = sim
            if isinstance(sim, EasyPostSimulator) and carrier_clock_scale:
                clock = asyncio.create_task(_run_carrier_clock(sim, carrier_clock_scale))
                stack.push_async_callback(_stop_task, clock)  # stops before the simulator
    if not sandbox.manifest:
        sandbox.manifest = {"format": MANIFEST_FORMAT, "systems": {}}
    if manifest_path is not None:
        write_manifest(sandbox.manifest, manifest_path)
    return sandbox
