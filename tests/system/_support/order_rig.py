"""The system tests' rig: every simulator in this process, the hub in its own process.

- `start_rig_simulators`: the demo's simulators (`crossdock.hub.demo.start_simulators`) on the
  demo's one catalogue plus the two test SKUs of `order_kinds`, with the simulators' rate limits
  lifted as bench/order_flow.py lifts them, ShipStation shipping only when the test tells it
  (no auto-ship), and the EDI 3PL shipping every order in full or in two parts (no short picks).
- `governance_toml`: examples/demo.toml pointed at them (`demo_governance`), the hub's own
  rate budgets removed, a SQLite store and a fixed port; written to a file for
  ``crossdock serve --config``.
- `HubProcess`: ``crossdock serve`` as a subprocess that can be SIGKILLed and started again.
- `HubDb`: reads the hub's SQLite store with plain ``sqlite3`` (the hub process holds the
  store's lock; readers never need it).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import re
import signal
import socket
import sqlite3
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from crossdock.governance import load_governance
from crossdock.hub.demo import DemoSandbox, demo_governance, demo_scenarios, start_simulators
from crossdock.hub.demo.wiring import (
    SHOPIFY_TOPICS,
    subscribe_easypost,
    subscribe_shipstation,
    subscribe_shopify,
)
from crossdock.sandbox.easypost import OUTCOMES
from crossdock.sandbox.easypost import default_scenario as easypost_scenario
from crossdock.sandbox.kit import Scenario
from crossdock.sandbox.shopify import default_scenario as shopify_scenario

from .order_kinds import BACKORDER_SKU, UNKNOWN_SKU

__all__ = [
    "DEMO_CONFIG",
    "FLOW",
    "SIMULATORS",
    "HubDb",
    "HubProcess",
    "RigSimulators",
    "free_port",
    "governance_toml",
    "start_rig_simulators",
]

REPO = Path(__file__).resolve().parents[3]
DEMO_CONFIG = REPO / "examples" / "demo.toml"
CROSSDOCK = Path(sys.executable).with_name("crossdock")
FLOW = "order_fulfilment"
SIMULATORS = ("shopify", "netsuite", "salesforce", "shipstation", "edi3pl", "easypost")
STOCK = 1_000_000
_TIMEOUT = aiohttp.ClientTimeout(total=30)


def free_port() -> int:
    """A port free on 127.0.0.1 now (the hub binds it, and binds it again after a kill)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Simulators
# ---------------------------------------------------------------------------------------------


def _shopify(base: Mapping[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(dict(base))
    data["shop"] = {**data["shop"], "rest_bucket_size": 1_000_000, "rest_leak_per_s": 1_000_000}
    for product in data["products"]:
        for variant in product["variants"]:
            if variant.get("sku"):
                variant["stock"] = dict.fromkeys(variant.get("stock") or {"main": 0}, STOCK)
    data["products"] += [
        {
            "title": "Backordered lamp",
            "vendor": "Crossdock",
            "product_type": "Goods",
            "tags": "",
            "variants": [
                {
                    "sku": BACKORDER_SKU,
                    "price": "39.00",
                    "stock": {"main": 0},
                    "inventory_policy": "continue",  # the storefront sells it anyway
                }
            ],
        },
        {
            "title": "Storefront-only poster",
            "vendor": "Crossdock",
            "product_type": "Goods",
            "tags": "",
            "variants": [{"sku": UNKNOWN_SKU, "price": "12.00", "stock": {"main": STOCK}}],
        },
    ]
    data["orders"] = []
    return data


def rig_scenarios(edi_mailbox: Path) -> dict[str, Scenario]:
    """The demo's scenarios, limits lifted, plus the backorder SKU where the ERP side knows it."""
    base = demo_scenarios(set(SIMULATORS), edi_mailbox=edi_mailbox)
    shop = shopify_scenario()
    carrier = easypost_scenario()
    out = {
        "shopify": Scenario(seed=shop.seed, data=_shopify(shop.data), name="system-shopify"),
        # Every parcel is delivered: an order's end does not hang on the carrier's dice.
        "easypost": Scenario(
            seed=carrier.seed,
            data={**carrier.data, "outcomes": {o: int(o == "delivered") for o in OUTCOMES}},
            name="system-easypost",
        ),
    }
    for name, scenario in base.items():
        data = copy.deepcopy(dict(scenario.data))
        if name == "netsuite":
            data["concurrency_limit"] = 10_000
            locations = list(data["items"][0]["onHand"]) if data.get("items") else ["1"]
            data["items"].append(
                {
                    "id": "9999",
                    "itemId": BACKORDER_SKU,
                    "externalId": BACKORDER_SKU,
                    "displayName": "Backordered lamp",
                    "basePrice": "39.00",
                    "onHand": dict.fromkeys(locations, 0),
                }
            )
        elif name == "salesforce":
            data["daily_api_limit"] = 100_000_000
            data["catalog"].append(
                {"sku": BACKORDER_SKU, "name": "Backordered lamp", "price": "39.00"}
            )
        elif name == "shipstation":
            data.pop("auto_ship", None)  # the test is the warehouse: it ships when it decides
        elif name == "edi3pl":
            data["stock"][BACKORDER_SKU] = 0
            data["outcomes"] = {"full": 3, "partial": 1, "short": 0}
        out[name] = Scenario(seed=scenario.seed, data=data, name=f"system-{name}")
    return out


@dataclass
class RigSimulators:
    """The running simulators and what the hub needs to reach them."""

    sandbox: DemoSandbox
    data_dir: Path

    @property
    def systems(self) -> Mapping[str, Any]:
        """The manifest entry of each simulator."""
        result: Mapping[str, Any] = self.sandbox.manifest["systems"]
        return result

    def admin(self, name: str) -> str:
        """The simulator's ``/_sandbox`` base URL."""
        return str(self.systems[name]["admin_url"])

    def release_held(self) -> int:
        """Send deliveries held back for reordering; return how many are still pending."""
        pending = 0
        for sim in self.sandbox.simulators.values():
            if sim.webhooks is not None:
                sim.webhooks.release_held()
                pending += sim.webhooks.pending
        return pending


async def start_rig_simulators(
    stack: contextlib.AsyncExitStack,
    data_dir: Path,
    *,
    seed: int,
    retry_time_scale: float,
) -> RigSimulators:
    """Start the simulators until `stack` closes (see the module docstring)."""
    mailbox = data_dir / "edi-mailbox"
    sandbox = await start_simulators(
        stack,
        names=list(SIMULATORS),
        seed=seed,
        retry_time_scale=retry_time_scale,
        scenarios=rig_scenarios(mailbox),
        edi_mailbox=mailbox,
    )
    if sandbox.failed:
        raise RuntimeError(f"simulators failed to start: {sandbox.failed}")
    return RigSimulators(sandbox, data_dir)


# ---------------------------------------------------------------------------------------------
# The governance file
# ---------------------------------------------------------------------------------------------

_SECTION = re.compile(r"^\[(?:systems\.)?([A-Za-z0-9_.]+)\]\s*$")


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def governance_toml(
    sims: RigSimulators,
    database: Path,
    port: int,
    *,
    breakers: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """examples/demo.toml pointed at the simulators; returns its text and the secrets it names.

    The hub's rate budgets are removed (as bench/order_flow.py does); `breakers` replaces a
    system's ``breaker = {...}`` table (system name to the inline table's text).
    """
    setup = demo_governance(
        load_governance(DEMO_CONFIG),
        sims.sandbox.manifest,
        edi_state_dir=sims.data_dir / "edi-state",
    )
    systems = setup.governance.systems
    lines: list[str] = []
    section = ""
    for raw in DEMO_CONFIG.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        match = _SECTION.match(line)
        if match:
            section = match.group(1) if line.startswith("[systems.") else f"[{match.group(1)}]"
            lines.append(raw)
            if section == "[hub]":
                lines.append(f"database_url = {_quote(f'sqlite:///{database}')}")
                lines.append(f"api_port = {port}")
            elif section in systems and section in setup.simulator_of:
                config = systems[section]
                if str(config.kind) == "edi":
                    lines.append(
                        f"settings.state_dir = {_quote(str(config.settings['state_dir']))}"
                    )
            continue
        if section == "[hub]" and line.startswith(("data_dir", "api_port")):
            continue
        if line.startswith("rate_budgets."):
            continue
        if section in systems and section in setup.simulator_of:
            config = systems[section]
            if line.startswith("base_url"):
                lines.append(f"base_url = {_quote(str(config.base_url))}")
                continue
            if line.startswith("settings.shop_domain"):
                lines.append(
                    f"settings.shop_domain = {_quote(str(config.settings['shop_domain']))}"
                )
                continue
            if line.startswith("breaker") and breakers and section in breakers:
                lines.append(f"breaker = {breakers[section]}")
                continue
        lines.append(raw)
    return "\n".join(lines) + "\n", dict(setup.environ)


# ---------------------------------------------------------------------------------------------
# The hub process
# ---------------------------------------------------------------------------------------------


@dataclass
class HubProcess:
    """``crossdock serve --config`` in its own process, on a fixed port.

    Args:
        config: The governance file.
        port: Its ``api_port``.
        environ: The secrets its ``env:`` references name.
        log_path: Where its output goes (appended across restarts).
    """

    config: Path
    port: int
    environ: Mapping[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    _log: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The hub's API."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, session: aiohttp.ClientSession, within: float = 60.0) -> None:
        """Start it and wait until ``/readyz`` answers 200."""
        if self._log is None:
            self._log = self.log_path.open("ab")
        env = {**os.environ, **self.environ, "PYTHONUNBUFFERED": "1"}
        self.process = await asyncio.create_subprocess_exec(
            str(CROSSDOCK),
            "serve",
            "--config",
            str(self.config),
            "--log-level",
            "warning",
            stdout=self._log,
            stderr=self._log,
            env=env,
        )
        self.starts += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if self.process.returncode is not None:
                raise AssertionError(
                    f"the hub exited with {self.process.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{self.url}/readyz", timeout=_TIMEOUT) as response:
                    if response.status == 200:
                        return
            if loop.time() > deadline:
                raise AssertionError(f"the hub was not ready within {within} s:\n{self.tail()}")
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL it (no clean-up of any kind) and reap it."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        code = await self.process.wait()
        assert code == -signal.SIGKILL, f"the hub ended with {code} before the kill:\n{self.tail()}"
        self.kills += 1

    async def stop(self, within: float = 30.0) -> None:
        """SIGTERM it and wait for a graceful end."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), within)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, n: int = 30) -> str:
        """The last lines of its output."""
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-n:])


# ---------------------------------------------------------------------------------------------
# Reading the hub's store
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadCommand:
    """A dead-lettered command: its destination, kind, reason (with the last error)."""

    destination: str
    kind: str
    reason: str
    order_key: str | None


class HubDb:
    """Reads the hub's SQLite store with ``sqlite3`` (safe beside the running hub: WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            yield conn
        finally:
            conn.close()

    def exists(self) -> bool:
        """True once the hub has made its store."""
        return self.path.exists()

    def states(self) -> dict[str, str]:
        """Each order flow instance's state."""
        if not self.exists():
            return {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT key, json_extract(state, '$.state.status') FROM flow_state WHERE flow = ?",
                (FLOW,),
            ).fetchall()
        return {str(key): str(status) for key, status in rows}

    def histories(self) -> dict[str, list[str]]:
        """Each order flow instance's states, in the order it went through them."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT key, json_extract(state, '$.state.history') FROM flow_state WHERE flow = ?",
                (FLOW,),
            ).fetchall()
        found: dict[str, list[str]] = {}
        for key, history in rows:
            steps = json.loads(history or "[]")
            found[str(key)] = [str(step["from"]) for step in steps[:1]] + [
                str(step["to"]) for step in steps
            ]
        return found

    def flow_state(self, key: str) -> dict[str, Any] | None:
        """One order flow instance's state (None: no instance)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT json_extract(state, '$.state') FROM flow_state WHERE flow = ? AND key = ?",
                (FLOW, key),
            ).fetchone()
        found: dict[str, Any] | None = json.loads(row[0]) if row and row[0] else None
        return found

    def busy(self) -> int:
        """Inbox rows not yet decoded plus the order flow's commands not yet settled.

        Other commands (the availability's channel sync, say) do not count: an order's end
        does not wait for them.
        """
        if not self.exists():
            return 1
        with self._conn() as conn:
            inbox = conn.execute(
                "SELECT count(*) FROM inbox WHERE status IN ('received', 'claimed')"
            ).fetchone()[0]
            commands = conn.execute(
                "SELECT count(*) FROM commands WHERE status NOT IN ('done', 'dead')"
                " AND idempotency_key LIKE ?",
                (f"{FLOW}:%",),
            ).fetchone()[0]
        return int(inbox) + int(commands)

    def inbox_waiting(self) -> int:
        """Inbox rows not yet decoded (received or claimed)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT count(*) FROM inbox WHERE status IN ('received', 'claimed')"
            ).fetchone()
        return int(row[0])

    def subjects(self, type_: str) -> set[str]:
        """The subjects of the events of a type (``gid://shopify/Order/...`` for orders)."""
        with self._conn() as conn:
            rows = conn.execute("SELECT DISTINCT subject FROM events WHERE type = ?", (type_,))
            return {str(subject) for (subject,) in rows.fetchall()}

    def tracking_statuses(self, tracking_number: str) -> list[str]:
        """The statuses of the log's ``shipment.updated`` events of a parcel, in log order."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT json_extract(body, '$.data.status') FROM events"
                " WHERE type = 'shipment.updated'"
                " AND json_extract(body, '$.data.tracking_number') = ? ORDER BY position",
                (tracking_number,),
            ).fetchall()
        return [str(status) for (status,) in rows]

    def dead_commands(self) -> list[DeadCommand]:
        """Every dead-lettered command, with its last attempt's error."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT c.destination, c.kind, c.dead_reason, c.payload, a.error FROM commands c"
                " LEFT JOIN command_attempts a ON a.command_id = c.id AND a.attempt = c.attempts"
                " WHERE c.status = 'dead'"
            ).fetchall()
        found = []
        for destination, kind, reason, payload, error in rows:
            instance = json.loads(payload).get("instance")
            key = instance.get("key") if isinstance(instance, dict) else None
            found.append(DeadCommand(destination, kind, f"{reason} | {error or ''}", key))
        return found

    def dead_inbox(self) -> list[tuple[str, str]]:
        """(source, reason) of every dead or quarantined inbox row."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT source, status, reason FROM inbox WHERE status IN ('dead', 'quarantined')"
            ).fetchall()
        return [(str(s), f"{status}: {reason}") for s, status, reason in rows]

    def breakers(self) -> dict[str, str]:
        """Each destination's breaker state as the store holds it."""
        with self._conn() as conn:
            rows = conn.execute("SELECT destination, state FROM breaker_state").fetchall()
        return {str(d): str(s) for d, s in rows}


async def subscribe_hub(
    session: aiohttp.ClientSession,
    sims: RigSimulators,
    hub_url: str,
    environ: Mapping[str, str],
    shopify_topics: tuple[str, ...] = SHOPIFY_TOPICS,
) -> None:
    """Subscribe the hub to the storefront's, ShipStation's and EasyPost's webhooks."""
    systems = sims.systems
    await subscribe_shopify(session, systems["shopify"], f"{hub_url}/hooks/shopify", shopify_topics)
    token = environ["DEMO_SHIPSTATION_HOOK_TOKEN"]
    await subscribe_shipstation(
        session,
        systems["shipstation"],
        f"{hub_url}/hooks/shipstation/{token}",
        f"{hub_url}/hooks/shipstation/...",
    )
    await subscribe_easypost(session, systems["easypost"], f"{hub_url}/hooks/easypost")
    async with session.post(
        f"{sims.admin('shipstation')}/shipstation/limits",
        json={"limit": 100_000_000, "window_s": 60},
        timeout=_TIMEOUT,
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"shipstation limits refused: {await response.text()}")
