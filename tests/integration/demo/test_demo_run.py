"""The demo's orchestration in process: every order arrives once, and what it shows is true."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from crossdock.cli import app
from crossdock.hub.demo import Demo, DemoOptions, DemoResult, summary_view

from .conftest import DEMO_CONFIG, NO_SKU, store_counts


def _run_demo(data_dir: Path, orders: int) -> tuple[Demo, DemoResult]:
    options = DemoOptions(
        orders=orders, rate=50, port=0, data_dir=data_dir, seed=11, config=DEMO_CONFIG
    )
    demo = Demo(options)
    result = asyncio.run(demo.run())
    return demo, result


def test_a_bounded_demo_stores_every_delivery_once_and_reports_the_truth(tmp_path: Path) -> None:
    demo, result = _run_demo(tmp_path, 8)
    assert result.drained
    assert not result.interrupted
    assert len(result.order_ids) == 8
    snap = result.snapshot
    assert snap.orders_placed == 8

    events, dead, subjects = store_counts(tmp_path / "crossdock.db")
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
    assert row.received == len(deliveries)  # each delivery stored exactly once
    assert row.duplicates >= chaos["duplicated"]  # every duplicate sent was absorbed
    assert row.decoded + row.dead + row.quarantined == row.received
    assert row.waiting == 0
    assert row.dead == len(dead)

    # Each dead row is a stock change of the gift card: an inventory item that has no SKU.
    items = shopify_sim.state.items  # type: ignore[attr-defined]
    for reason in dead:
        match = NO_SKU.search(reason)
        assert match is not None, reason
        assert not items[int(match.group(1))]["sku"]

    # Systems without a simulator or an inbound side say so instead of pretending.
    notes = {r.name: r.note for r in snap.systems}
    assert notes["netsuite"]
    assert notes["businesscentral"] == "inactive in the governance file"

    console = Console(width=160, record=True)
    console.print(summary_view(snap, drained=result.drained, sample_order=result.order_ids[0]))
    text = console.export_text()
    assert "orders placed" in text
    assert "Not built yet" in text


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
