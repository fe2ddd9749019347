"""The demo's orchestration in process: every order reaches every system once, and it says so.

The bounded demo runs the real hub (decoder, order flow, outbound workers) against every
simulator. Exactly-once is judged by the simulators' own effect ledgers against the orders
placed and their flow states; every dead letter and dead inbox row must have a reason the test
explains (see conftest).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from crossdock.cli import app
from crossdock.flows.order_fulfilment.flow import order_key_for
from crossdock.hub.demo import Demo, DemoOptions, DemoResult, summary_view

from .conftest import (
    DEMO_CONFIG,
    NOT_FOUND_IN_CRM,
    dead_inbox,
    explained_dead_inbox,
    explained_dead_letter,
    store_counts,
)

# States reached only after the ERP took the sales order, the CRM was told, the warehouse
# got the order, or the storefront got a fulfilment.
AFTER_ERP = frozenset(
    {
        "erp_order_created",
        "crm_told",
        "payment_held",
        "fraud_hold",
        "payment_failed",
        "backorder",
        "released_to_warehouse",
        "partially_shipped",
        "shipped",
        "delivered",
        "invoiced",
        "closed",
        "cancelled_after_release",
    }
)
AFTER_CRM = AFTER_ERP - {"erp_order_created"}
RELEASED = frozenset(
    {
        "released_to_warehouse",
        "partially_shipped",
        "shipped",
        "delivered",
        "invoiced",
        "closed",
        "cancelled_after_release",
    }
)
SHIPPED = frozenset({"partially_shipped", "shipped", "delivered", "invoiced", "closed"})


def _run_demo(data_dir: Path, orders: int) -> tuple[Demo, DemoResult]:
    options = DemoOptions(
        orders=orders,
        rate=50,
        port=0,
        data_dir=data_dir,
        seed=11,
        config=DEMO_CONFIG,
        drain_timeout_s=30,
    )
    demo = Demo(options)
    result = asyncio.run(demo.run())
    return demo, result


def _effects(demo: Demo, simulator: str, kind: str) -> dict[str, dict[str, Any]]:
    """The keys of `kind` the simulator really created (its effect ledger), with their entry."""
    report: dict[str, dict[str, Any]] = demo.sandbox.simulators[simulator].effects.report()
    return {key: entry for key, entry in report.get(kind, {}).items() if entry["created"]}


def _dead_commands(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(destination, kind, reason, order key) of every dead-lettered command.

    The reason is the dead letter's, followed by its last attempt's error (the system's words).
    """
    found = []
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT c.destination, c.kind, c.dead_reason, c.payload, a.error FROM commands c"
            " LEFT JOIN command_attempts a ON a.command_id = c.id AND a.attempt = c.attempts"
            " WHERE c.status = 'dead'"
        ).fetchall()
    conn.close()
    for destination, kind, reason, payload, error in rows:
        order = json.loads(payload).get("order")
        key = order.get("id") if isinstance(order, dict) else None
        found.append((str(destination), str(kind), f"{reason} | {error or ''}", key))
    return found


def test_a_bounded_demo_reaches_every_system_once_and_reports_the_truth(tmp_path: Path) -> None:
    demo, result = _run_demo(tmp_path, 8)
    assert result.drained
    assert not result.interrupted
    assert len(result.order_ids) == 8
    snap = result.snapshot
    assert snap.orders_placed == 8
    db = tmp_path / "crossdock.db"

    # Every delivery stored once; the snapshot was taken after the hub stopped, so it is the log.
    events, _, subjects = store_counts(db)
    assert events["order.placed"] == 8
    assert {s.rsplit("/", 1)[1] for s in subjects} == {str(i) for i in result.order_ids}
    assert dict(snap.events_by_type) == events
    shopify_sim = demo.sandbox.simulators["shopify"]
    assert shopify_sim.webhooks is not None
    deliveries = shopify_sim.webhooks.deliveries
    assert deliveries
    assert all(d.state == "delivered" for d in deliveries)
    chaos = Counter(tag for d in deliveries for tag in d.chaos)
    row = next(r for r in snap.systems if r.name == "shopify")
    assert row.receiving
    assert row.received == len(deliveries)
    assert row.duplicates >= chaos["duplicated"]
    assert row.decoded + row.dead + row.quarantined == row.received
    assert row.waiting == 0

    # Every order has a flow instance; the snapshot's counts are those instances.
    keys = {order_key_for("shopify", f"gid://shopify/Order/{i}"): i for i in result.order_ids}
    states = dict(result.order_states)
    assert set(states) == set(keys)
    assert all(state is not None for state in states.values()), states
    assert dict(snap.flow_states) == dict(Counter(s for s in states.values() if s is not None))
    assert sum(snap.queue_depth for snap in snap.systems) == 0
    dead = _dead_commands(db)
    for destination, kind, reason, _ in dead:
        assert explained_dead_letter(destination, reason), (destination, kind, reason)
    refused_by_crm = {
        key for dest, kind, _, key in dead if (dest, kind) == ("salesforce", "order.create")
    }
    for destination, _, reason, _ in dead:  # "not found": only orders whose create was refused
        missing = NOT_FOUND_IN_CRM.search(reason)
        if destination == "salesforce" and reason.startswith("not found"):
            assert missing is not None, reason
            key = next(k for k, i in keys.items() if str(i) == missing.group(1))
            assert key in refused_by_crm, reason

    # The ERP: one sales order per order past validation, never two, none for another order.
    erp = _effects(demo, "netsuite", "salesOrder")
    assert set(erp) <= set(keys)
    assert all(entry["created"] == 1 for entry in erp.values()), erp
    assert {k for k, s in states.items() if s in AFTER_ERP} <= set(erp)

    # The CRM: one Salesforce Order per order told, except the ones it refused (explained).
    crm = _effects(demo, "salesforce", "Order.Shopify_Order_Id__c")
    assert set(crm) <= {str(i) for i in keys.values()}
    assert all(entry["created"] == 1 for entry in crm.values()), crm
    for key, state in states.items():
        if state in AFTER_CRM and key not in refused_by_crm:
            assert str(keys[key]) in crm, (key, state)

    # The warehouse: one order per released order (ShipStation or the EDI 3PL), and only those.
    warehouse = _effects(demo, "shipstation", "order")
    assert set(warehouse) <= set(keys)
    assert all(entry["created"] == 1 for entry in warehouse.values()), warehouse
    released = {k for k, s in states.items() if s in RELEASED}
    edi = _effects(demo, "edi3pl", "940")
    assert all(entry["created"] == 1 for entry in edi.values()), edi
    assert {k for k in warehouse if states[k] not in RELEASED} == set()
    assert len(released) == len(warehouse) + len(edi)

    # AutoShip ships them; each shipped order got its Shopify fulfilment with tracking.
    fulfilled = _effects(demo, "shopify", "fulfillment")
    shipped = {k for k, s in states.items() if s in SHIPPED}
    assert shipped, states
    assert all(str(keys[k]) in fulfilled for k in shipped)
    assert snap.effects["netsuite"]["salesOrder"] == len(erp)
    assert snap.effects["shipstation"]["order"] == len(warehouse)

    # Dead letters and dead inbox rows: each has a reason the test knows.
    assert sum(snap.dead_letters.values()) == len(dead)
    for source, reason in dead_inbox(db):
        assert explained_dead_inbox(source, reason), (source, reason)

    console = Console(width=160, record=True)
    console.print(summary_view(snap, drained=result.drained, sample_order=result.order_ids[0]))
    text = console.export_text()
    assert "orders by flow state" in text
    assert "What each system really did" in text
    assert "Not reached in the demo" in text


def test_order_show_prints_an_orders_events_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    _, result = _run_demo(tmp_path, 3)
    store = tmp_path / "crossdock.db"
    _, _, subjects = store_counts(store)
    order_id = subjects[0].rsplit("/", 1)[1]
    runner = CliRunner()

    shown = runner.invoke(app, ["order", "show", order_id, "--database-url", str(store)])
    assert shown.exit_code == 0, shown.output
    assert "order.placed" in shown.output
    assert subjects[0] in shown.output

    missing = runner.invoke(app, ["order", "show", "424242", "--database-url", str(store)])
    assert missing.exit_code == 1
    assert "no event is known about order '424242'" in missing.output

    absent = runner.invoke(app, ["order", "show", "1", "--database-url", str(tmp_path / "no.db")])
    assert absent.exit_code == 1
    assert "no store at" in absent.output
    assert result.order_ids
