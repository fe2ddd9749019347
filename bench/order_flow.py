"""Orders per second through the hub's order flow against its bare ceiling (issue 9, Benchmark).

Two identical sets of simulators run in this process (Shopify, NetSuite, Salesforce,
ShipStation, EasyPost), seeded with the demo's one catalogue (`demo_scenarios`), their rate
limits lifted: Shopify's REST bucket and leak rate, NetSuite's concurrency limit and
Salesforce's daily allocation through their scenario data, ShipStation's window through
``POST /_sandbox/shipstation/limits``. The hub's own rate budgets are removed from the
governance (``rate_budgets = {}`` on every system), so nothing waits for a budget.

1. Hub: N paid orders are placed in the first Shopify simulator through its admin API; the hub
   (examples/demo.toml pointed at the simulators, a fresh SQLite store) receives the webhooks
   and runs the order flow. Each order's latency runs from just before its placement request to
   the moment its flow state reads ``released_to_warehouse`` (the store is polled).
2. Ceiling: the commands the hub sent on that main path (NetSuite, Salesforce, ShipStation) are
   replayed, order by order in the hub's order, through a second hub's connectors (`perform`,
   the same HTTP calls) against the second set of simulators, with the worker pool's
   concurrency and one SQLite commit (synchronous FULL) after every call.

Run: ``.venv/bin/python bench/order_flow.py [--orders N] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from crossdock.backbone.store import Command
from crossdock.flows.order_fulfilment import OrderFulfilment
from crossdock.flows.order_fulfilment.flow import order_key_for
from crossdock.governance import Governance, load_governance
from crossdock.hub import Hub
from crossdock.hub.demo import (
    default_demo_config,
    demo_governance,
    demo_scenarios,
    start_simulators,
    storefront_catalogue,
)
from crossdock.hub.demo.wiring import (
    ShopifyTraffic,
    subscribe_easypost,
    subscribe_shipstation,
    subscribe_shopify,
)
from crossdock.hub.outbound import adapt, role_for, system_roles
from crossdock.observability.logging import configure_logging
from crossdock.runtime.workers import WorkerConfig
from crossdock.sandbox.kit import Scenario
from crossdock.sandbox.shopify import default_scenario as shopify_scenario

FLOW = OrderFulfilment.name
REPO = Path(__file__).resolve().parents[1]
TARGET = 0.4
MAIN_PATH = ("netsuite", "salesforce", "shipstation")
MAIN_KINDS = ("customer.upsert", "sales_order.create", "order.create", "order.release")
SIMULATORS = ["shopify", "netsuite", "salesforce", "shipstation", "easypost"]
POLL_S = 0.02
PLACE_CONCURRENCY = 8
STOCK = 1_000_000


def _scenarios() -> dict[str, Scenario]:
    """The demo's one-catalogue scenarios, with every simulator's rate limit lifted."""
    base = demo_scenarios(set(SIMULATORS))
    shop = shopify_scenario()
    data = dict(shop.data)
    data["shop"] = {**data["shop"], "rest_bucket_size": 1_000_000, "rest_leak_per_s": 1_000_000}
    data["products"] = [
        {
            **product,
            "variants": [
                {**variant, "stock": dict.fromkeys(variant.get("stock") or {"main": 0}, STOCK)}
                for variant in product["variants"]
            ],
        }
        for product in data["products"]
    ]
    out = {"shopify": Scenario(seed=shop.seed, data=data, name="bench-shopify")}
    for name, scenario in base.items():
        data = dict(scenario.data)
        if name == "netsuite":
            data["concurrency_limit"] = 10_000
        if name == "salesforce":
            data["daily_api_limit"] = 100_000_000
        if name == "shipstation":  # no shipping during the measurement: only the main path
            data.pop("auto_ship", None)
        out[name] = Scenario(seed=scenario.seed, data=data, name=f"bench-{name}")
    return out


@dataclass
class Side:
    """One set of simulators and a hub wired to them."""

    hub: Hub
    manifest: dict[str, Any]
    session: aiohttp.ClientSession
    catalogue: list[str] = field(default_factory=list)


def _governance(
    base: Governance, manifest: Mapping[str, Any], db: Path
) -> tuple[Governance, dict[str, str]]:
    demo = demo_governance(base, manifest)
    governance = demo.governance
    systems = {
        name: config.model_copy(update={"rate_budgets": {}})
        for name, config in governance.systems.items()
    }
    hub = governance.hub.model_copy(update={"database_url": f"sqlite:///{db}", "api_port": 0})
    return governance.model_copy(update={"systems": systems, "hub": hub}), demo.environ


async def _side(stack: contextlib.AsyncExitStack, base: Governance, db: Path) -> Side:
    sandbox = await start_simulators(
        stack, names=SIMULATORS, scenarios=_scenarios(), carrier_clock_scale=None
    )
    if sandbox.failed:
        raise SystemExit(f"simulators failed to start: {sandbox.failed}")
    governance, environ = _governance(base, sandbox.manifest, db)
    hub = Hub(governance, environ=environ)
    await hub.start()
    stack.push_async_callback(hub.stop)
    session = await stack.enter_async_context(aiohttp.ClientSession())
    systems = sandbox.manifest["systems"]
    async with session.post(
        f"{systems['shipstation']['admin_url']}/shipstation/limits",
        json={"limit": 100_000_000, "window_s": 60},
    ) as response:
        if response.status != 200:
            raise SystemExit(f"shipstation limits refused: {await response.text()}")
    await subscribe_shopify(session, systems["shopify"], f"{hub.base_url}/hooks/shopify")
    token = environ.get("DEMO_SHIPSTATION_HOOK_TOKEN", "")
    await subscribe_shipstation(
        session,
        systems["shipstation"],
        f"{hub.base_url}/hooks/shipstation/{token}",
        f"{hub.base_url}/hooks/shipstation/...",
    )
    await subscribe_easypost(session, systems["easypost"], f"{hub.base_url}/hooks/easypost")
    await ShopifyTraffic(session, systems["shopify"]).announce_stock()
    skus = [item.sku for item in storefront_catalogue(shopify_scenario().data)]
    return Side(hub, sandbox.manifest, session, skus)


def _order_spec(n: int, sku: str) -> dict[str, Any]:
    address = {
        "first_name": f"Bench{n}",
        "last_name": "Buyer",
        "address1": f"{n} Main Street",
        "city": "Springfield",
        "province_code": "IL",
        "zip": "62701",
        "country_code": "US",
        "phone": "+1 217 555 0100",
    }
    email = f"bench{n}@example.com"
    return {
        "line_items": [{"sku": sku, "quantity": 1}],
        "email": email,
        "customer": {
            "email": email,
            "first_name": address["first_name"],
            "last_name": address["last_name"],
            "default_address": address,
        },
        "shipping_address": address,
        "billing_address": address,
        "source_name": "web",
    }


async def _status(hub: Hub, key: str) -> str | None:
    assert hub.store is not None
    found = await hub.store.get_flow_state(FLOW, key)
    inner = None if found is None else found.state.get("state")
    return None if not isinstance(inner, dict) else str(inner.get("status"))


async def _run_hub(side: Side, orders: int, timeout_s: float) -> dict[str, Any]:
    admin = str(side.manifest["systems"]["shopify"]["admin_url"])
    placed: dict[str, float] = {}
    gate = asyncio.Semaphore(PLACE_CONCURRENCY)

    async def place(n: int) -> None:
        async with gate:
            started = time.perf_counter()
            spec = _order_spec(n, side.catalogue[n % len(side.catalogue)])
            async with side.session.post(f"{admin}/shopify/orders", json=spec) as response:
                body = await response.json(content_type=None)
                if response.status != 201:
                    raise SystemExit(f"shopify refused order {n}: {body}")
            key = order_key_for("shopify", f"gid://shopify/Order/{body['order']['id']}")
            placed[key] = started

    done: dict[str, float] = {}
    await asyncio.sleep(1.0)  # the stock announcements reach the hub first
    start = time.perf_counter()
    placing = asyncio.gather(*(place(n) for n in range(orders)))
    deadline = start + timeout_s
    while True:
        for key in [k for k in placed if k not in done]:
            if await _status(side.hub, key) == "released_to_warehouse":
                done[key] = time.perf_counter()
        if placing.done() and len(done) == orders:
            break
        if time.perf_counter() > deadline:
            break
        await asyncio.sleep(POLL_S)
    await placing
    latencies = sorted(done[k] - placed[k] for k in done)
    elapsed = (max(done.values()) if done else time.perf_counter()) - start
    return {
        "orders": orders,
        "completed": len(done),
        "seconds": elapsed,
        "orders_per_s": len(done) / elapsed if elapsed > 0 else 0.0,
        "p50_s": _quantile(latencies, 0.50),
        "p99_s": _quantile(latencies, 0.99),
        "keys": set(placed),
    }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def _main_path(hub: Hub, keys: set[str]) -> list[list[Command]]:
    """The hub's main-path commands of the placed orders, per order, in enqueue order."""
    assert hub.store is not None
    per_order: dict[str, list[Command]] = {}
    command_id = 1
    while (record := await hub.store.get_command(command_id)) is not None:
        command = record.command
        key = command.idempotency_key.removeprefix(f"{FLOW}:").split(":", 1)[0]
        if command.destination in MAIN_PATH and command.kind in MAIN_KINDS and key in keys:
            per_order.setdefault(key, []).append(command)
        command_id += 1
    return list(per_order.values())


async def _run_ceiling(side: Side, orders: list[list[Command]], db: Path) -> dict[str, Any]:
    connection = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE step (key TEXT PRIMARY KEY, result TEXT)")
    write = asyncio.Lock()
    roles = system_roles(side.hub.governance)
    gate = asyncio.Semaphore(WorkerConfig().concurrency)
    failures: list[str] = []

    def commit(key: str, result: str) -> None:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO step VALUES (?, ?)", (key, result))
        connection.execute("COMMIT")

    async def one(commands: list[Command]) -> None:
        for command in commands:
            connector = side.hub.outbound[command.destination]
            role = role_for(command.kind, roles.get(command.destination, frozenset()))
            async with gate:
                try:
                    result = await connector.perform(adapt(command, role), attempt=1)
                except Exception as exc:  # counted and reported, never hidden
                    failures.append(f"{command.kind}: {type(exc).__name__}: {exc}")
                    return
            async with write:
                await asyncio.to_thread(
                    commit, command.idempotency_key, json.dumps(result, default=str)
                )

    start = time.perf_counter()
    await asyncio.gather(*(one(commands) for commands in orders))
    elapsed = time.perf_counter() - start
    connection.close()
    completed = len(orders) - len(failures)
    return {
        "orders": len(orders),
        "completed": completed,
        "calls_per_order": statistics.mean(len(c) for c in orders) if orders else 0,
        "seconds": elapsed,
        "orders_per_s": completed / elapsed if elapsed > 0 else 0.0,
        "failures": len(failures),
        "first_failures": failures[:3],
    }


async def _bench(orders: int, timeout_s: float) -> dict[str, Any]:
    config = default_demo_config(REPO)
    if config is None:
        raise SystemExit("cannot find examples/demo.toml")
    base = load_governance(config)
    with tempfile.TemporaryDirectory(prefix="bench-order-flow-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            hub_side = await _side(stack, base, Path(tmp) / "hub.db")
            ceiling_side = await _side(stack, base, Path(tmp) / "ceiling-hub.db")
            hub = await _run_hub(hub_side, orders, timeout_s)
            commands = await _main_path(hub_side.hub, hub.pop("keys"))
            ceiling = await _run_ceiling(ceiling_side, commands, Path(tmp) / "ceiling.db")
    ratio = hub["orders_per_s"] / ceiling["orders_per_s"] if ceiling["orders_per_s"] else None
    return {"hub": hub, "ceiling": ceiling, "ratio": ratio}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    """Parse the options, run both measurements, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=None, help="orders to place (default 120)")
    parser.add_argument("--quick", action="store_true", help="a short run (40 orders)")
    args = parser.parse_args()
    configure_logging(level="WARNING", stream=sys.stderr)  # the table stays readable
    orders = args.orders or (40 if args.quick else 120)
    result = asyncio.run(_bench(orders, timeout_s=15.0 if args.quick else 60.0))
    hub, ceiling, ratio = result["hub"], result["ceiling"], result["ratio"]
    header = ("orders", "done", "seconds", "orders/s", "p50 s", "p99 s")
    print(f"{'measure':<12}" + "".join(f"{h:>10}" for h in header))
    for name, row in (("ceiling", ceiling), ("hub", hub)):
        print(
            f"{name:<12}{row['orders']:>10}{row['completed']:>10}{_fmt(row['seconds']):>10}"
            f"{_fmt(row['orders_per_s']):>10}{_fmt(row.get('p50_s')):>10}{_fmt(row.get('p99_s')):>10}"
        )
    if ceiling["failures"]:
        print(f"ceiling failures (first): {ceiling['first_failures']}", file=sys.stderr)
    print(f"ratio hub/ceiling: {_fmt(ratio)} (target {TARGET})")
    summary = {
        "benchmark": "order_flow",
        "orders": orders,
        "ceiling_orders_per_s": round(ceiling["orders_per_s"], 3),
        "ceiling_calls_per_order": ceiling["calls_per_order"],
        "ceiling_failures": ceiling["failures"],
        "hub_orders_per_s": round(hub["orders_per_s"], 3),
        "hub_completed": hub["completed"],
        "hub_p50_s": hub["p50_s"],
        "hub_p99_s": hub["p99_s"],
        "ratio": None if ratio is None else round(ratio, 3),
        "target": TARGET,
        "target_met": ratio is not None and ratio >= TARGET and hub["completed"] == orders,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
