"""One system-test run of the order flow: simulators, the hub process, subscriptions, stock.

`open_run` starts everything and yields a `Run`; the test places orders with `Run.driver`,
kills or faults what it wants, then calls `Run.finish`, which settles the run, stops the hub
gracefully and judges every order (`order_checks.judge`).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from .order_checks import RunReport, judge
from .order_driver import OrderDriver
from .order_rig import (
    HubDb,
    HubProcess,
    RigSimulators,
    free_port,
    governance_toml,
    start_rig_simulators,
    subscribe_hub,
)

__all__ = ["Run", "env_int", "open_run"]


def env_int(name: str, default: int) -> int:
    """An integer from the environment (the issue's figure when unset)."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


@dataclass
class Run:
    """Everything one test run uses."""

    sims: RigSimulators
    hub: HubProcess
    db: HubDb
    driver: OrderDriver
    session: aiohttp.ClientSession
    seed: int

    async def set_webhook_chaos(self, chaos: Mapping[str, float]) -> None:
        """Make every simulator's webhooks misbehave as `chaos` says (seeded by the run)."""
        for name, sim in self.sims.sandbox.simulators.items():
            if sim.webhooks is None:
                continue
            body = {"webhooks": dict(chaos), "seed": self.seed}
            url = f"{self.sims.admin(name)}/faults"
            async with self.session.post(url, json=body) as response:
                assert response.status == 200, await response.text()

    async def finish(self, within: float) -> RunReport:
        """Settle (bounded), stop the hub gracefully, and judge every order."""
        settled = await self.driver.settle(within)
        await self.hub.stop()
        report = await judge(self.driver.orders.values(), self.db, self.sims, self.session)
        report.notes.append(
            f"seed={self.seed} (rerun with CROSSDOCK_TEST_SEED={self.seed}); "
            f"settled={settled}; hub starts={self.hub.starts}, kills={self.hub.kills}"
        )
        report.notes += [f"driver: {e}" for e in self.driver.errors[:10]]
        if not settled:
            report.notes.append(f"hub log tail:\n{self.hub.tail(15)}")
        return report


@contextlib.asynccontextmanager
async def open_run(
    tmp: Path,
    seed: int,
    *,
    retry_time_scale: float = 0.001,
    breakers: Mapping[str, str] | None = None,
) -> AsyncIterator[Run]:
    """Start the simulators and the hub process, subscribe it, and wait until it knows the stock.

    The stock is seeded in the ERP simulator and the storefront's levels alike (as the demo
    does); the storefront's levels are announced, and the run starts once the hub's
    availability API knows every catalogue SKU (when the hub serves it).
    """
    async with contextlib.AsyncExitStack() as stack:
        sims = await start_rig_simulators(stack, tmp, seed=seed, retry_time_scale=retry_time_scale)
        database = tmp / "hub.db"
        port = free_port()
        text, environ = governance_toml(sims, database, port, breakers=breakers)
        config = tmp / "crossdock.toml"
        config.write_text(text, encoding="utf-8")
        hub = HubProcess(config, port, environ, tmp / "hub.log")
        # No keep-alive: a connection the server closed while idle is never reused.
        connector = aiohttp.TCPConnector(force_close=True)
        session = await stack.enter_async_context(aiohttp.ClientSession(connector=connector))
        stack.push_async_callback(hub.stop)
        await hub.start(session)
        await subscribe_hub(session, sims, hub.url, environ)
        db = HubDb(database)
        driver = OrderDriver(sims, session, db, random.Random(seed), run=f"{seed:x}")
        await driver.announce_stock()
        await driver.hub_knows_stock(hub.url)
        yield Run(sims, hub, db, driver, session, seed)
