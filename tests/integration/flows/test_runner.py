"""The FlowRunner on real stores (SQLite, and PostgreSQL): state, outbox, results, replays, faults.

Orders and shipments come from the recorded histories in ``tests/fixtures/flows``; command
results are produced the way the delivery workers produce them: claim the command from the
store, complete it with its result event (`crossdock.canonical.commands.result_event`).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from crossdock.backbone import SqlStore
from crossdock.backbone.postgres import PostgresStore
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import Command, JSONObject, Store
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import EVENT_REJECTED, RUNNER_FLOW, FlowRunner
from crossdock.flows.order_fulfilment import (
    OrderContext,
    OrderFulfilment,
    OrderFulfilmentSettings,
    StaticAvailability,
)

from .delivery import deliver as shared_deliver
from .delivery import status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "flows"
RESULTS: dict[str, JSONObject] = {
    "sales_order.create": {"netsuite_id": "9001", "tran_id": "SO9001"},
    "order.create": {"order_id": "801xx01", "order_number": "00000101", "created": True},
    "order.release": {"order_id": 501, "order_status": "awaiting_shipment"},
    "invoice.create": {"netsuite_id": "INV1"},
}


def read(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def history(name: str) -> dict[str, Any]:
    return read(FIXTURES / f"{name}.json")


HAPPY = history("happy_path_two_shipments")
QUARANTINE = history("unknown_sku_quarantine")


def events_of(doc: dict[str, Any], *types: str) -> list[Event]:
    return [Event.model_validate(e) for e in doc["events"] if e["type"] in types]


def build_flow(doc: dict[str, Any] = HAPPY) -> OrderFulfilment:
    return OrderFulfilment(
        OrderFulfilmentSettings.from_dict(doc["settings"]),
        StaticAvailability(doc["availability"]),
    )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """A started store on a fresh SQLite file, or a fresh PostgreSQL schema dropped after."""
    if request.param == "sqlite":
        opened: SqlStore = SQLiteStore(tmp_path / "hub.db")
        await opened.start()
        yield opened
        await opened.close()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"cdflows_{uuid.uuid4().hex[:16]}"
    opened = PostgresStore(url, schema=schema)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


async def deliver(store: Store, destination: str) -> list[Command]:
    """Complete every pending command of `destination` with this module's `RESULTS`."""
    return await shared_deliver(store, destination, RESULTS)


async def test_an_order_travels_the_main_path_through_store_and_queue(store: SqlStore) -> None:
    runner = FlowRunner(store, [build_flow()])
    [placed] = events_of(HAPPY, "order.placed")
    await store.append_events(placed)
    await runner.run_until_idle()
    [outcome] = runner.outcomes
    key = outcome.key
    assert key is not None
    assert await status(store, key) == "validated"

    customer, erp = await deliver(store, "netsuite")
    assert customer.kind == "customer.upsert"
    assert erp.kind == "sales_order.create"
    assert erp.idempotency_key == f"order_fulfilment:{key}:sales_order.create"
    assert erp.correlation_id == placed.correlationid
    await runner.run_until_idle()
    assert await status(store, key) == "released_to_warehouse"
    assert await store.external_id(key, "netsuite") == "9001"
    assert await store.canonical_id("shopify", placed.subject or "") == key

    crm_customer, crm = await deliver(store, "salesforce")
    [release] = await deliver(store, "shipstation")
    assert crm_customer.kind == "customer.upsert"
    assert crm.kind == "order.create"
    assert release.kind == "order.release"
    assert release.payload["order_key"] == key
    await runner.run_until_idle()
    assert await store.external_id(key, "shipstation") == "501"
    assert await store.external_id(key, "salesforce") == "801xx01"

    for shipment in events_of(HAPPY, "shipment.created"):
        await store.append_events(shipment)
    await runner.run_until_idle()
    assert await status(store, key) == "shipped"
    kinds = {
        dest: sorted(c.kind for c in await deliver(store, dest))
        for dest in ("netsuite", "shopify", "salesforce", "easypost")
    }
    assert kinds == {
        "netsuite": ["fulfillment.record", "fulfillment.record"],
        "shopify": ["fulfillment.create", "fulfillment.create"],
        "salesforce": ["order.update_status", "order.update_status"],
        "easypost": ["shipment.track", "shipment.track"],
    }

    for update in events_of(HAPPY, "shipment.updated"):
        await store.append_events(update)
    await runner.run_until_idle()
    assert await status(store, key) == "delivered"
    [invoice] = await deliver(store, "netsuite")
    assert invoice.kind == "invoice.create"
    await runner.run_until_idle()
    assert await status(store, key) == "closed"
    assert await store.queue_depth() == {}


async def test_replaying_the_log_enqueues_nothing_new(store: SqlStore, tmp_path: Path) -> None:
    flow = build_flow()
    first = FlowRunner(store, [flow], name="first")
    for event in [Event.model_validate(e) for e in HAPPY["events"]]:
        await store.append_events(event)
    await first.run_until_idle()
    keys = sorted(c.idempotency_key for o in first.outcomes for c in o.commands)
    assert sum(o.created for o in first.outcomes) == len(keys) > 10

    second = FlowRunner(store, [flow], name="second")
    await second.run_until_idle()
    applied = [o for o in second.outcomes if o.outcome not in ("skipped", "ignored")]
    assert applied == []
    assert sum(o.created for o in second.outcomes) == 0

    other = SQLiteStore(tmp_path / "other.db")
    await other.start()
    try:
        for event in [Event.model_validate(e) for e in HAPPY["events"]]:
            await other.append_events(event)
        again = FlowRunner(other, [build_flow()])
        await again.run_until_idle()
        assert sorted(c.idempotency_key for o in again.outcomes for c in o.commands) == keys
    finally:
        await other.close()


class BumpingFlow(OrderFulfilment):
    """Moves the instance's version behind the runner's back once, as a rival writer would."""

    bumped = 0

    async def context(
        self, key: str, event: Event, state: JSONObject | None, store: Store
    ) -> OrderContext:
        if state is not None and self.bumped == 0:
            self.bumped += 1
            found = await store.get_flow_state(self.name, key)
            assert found is not None
            async with store.transaction() as tx:
                await tx.save_flow_state(self.name, key, found.state, found.version)
        return await super().context(key, event, state, store)


async def test_stale_flow_state_reloads_and_applies_once(store: SqlStore) -> None:
    flow = BumpingFlow(build_flow().settings, StaticAvailability(HAPPY["availability"]))
    runner = FlowRunner(store, [flow])
    placed, erp_result = (Event.model_validate(e) for e in HAPPY["events"][:2])
    await store.append_events(placed, erp_result)
    await runner.run_until_idle()
    assert flow.bumped == 1
    key = runner.outcomes[0].key
    assert key is not None
    found = await store.get_flow_state("order_fulfilment", key)
    assert found is not None
    assert found.version == 3  # placed, the rival's save, the ERP result
    assert found.state["state"]["status"] == "released_to_warehouse"
    releases = [c for o in runner.outcomes for c in o.commands if c.kind == "order.release"]
    assert len(releases) == 1
    assert await store.find_command(releases[0].idempotency_key) is not None


async def test_an_unknown_sku_quarantines_one_order_while_others_flow(store: SqlStore) -> None:
    runner = FlowRunner(store, [build_flow(QUARANTINE)])
    for event in [Event.model_validate(e) for e in QUARANTINE["events"]]:
        await store.append_events(event)
    await runner.run_until_idle()
    bad, good = (o.key for o in runner.outcomes[:2])
    assert bad is not None
    assert good is not None
    assert await status(store, bad) == "quarantined"
    assert await status(store, good) == "released_to_warehouse"
    log = await store.events_by_subject(bad)
    assert [(e.event.type, e.event.data["reason"]) for e in log] == [
        ("order.quarantined", "unknown SKU: ZZZ-NOPE")
    ]
    assert [c.kind for c in await deliver(store, "shipstation")] == ["order.release"]


async def test_events_a_flow_cannot_take_are_recorded_and_the_runner_moves_on(
    store: SqlStore,
) -> None:
    runner = FlowRunner(store, [build_flow()])
    [placed] = events_of(HAPPY, "order.placed")
    garbage = placed.model_copy(update={"id": "bad-1", "data": {"lines": "nope"}})
    stray = events_of(HAPPY, "shipment.created")[0].model_copy(
        update={"id": "stray-1", "data": {**events_of(HAPPY, "shipment.created")[0].data}}
    )
    unrelated = Event(source="x", type="price.changed", correlationid="c", data={})
    await store.append_events(garbage, stray, unrelated, placed)
    await runner.run_until_idle()
    outcomes = [(o.outcome, o.reason is not None) for o in runner.outcomes]
    assert outcomes[:2] == [("rejected", True), ("rejected", True)]
    assert outcomes[2] == ("applied", False)
    rejected = [e for e in await store.read_events(0, limit=100) if e.event.type == EVENT_REJECTED]
    assert len(rejected) == 2
    assert "not a valid order.v1" in rejected[0].event.data["reason"]
    last = (await store.read_events(0, limit=100))[-1].position
    assert await runner.position() == last
    checkpoint = await store.get_flow_state(RUNNER_FLOW, "main")
    assert checkpoint is not None


@pytest.mark.parametrize("per_commit", [1, 4])
async def test_two_runners_of_one_name_apply_each_event_once(
    store: SqlStore, per_commit: int
) -> None:
    flow = build_flow()
    for event in [Event.model_validate(e) for e in HAPPY["events"]]:
        await store.append_events(event)
    one, two = (
        FlowRunner(store, [flow], batch_size=3, events_per_commit=per_commit) for _ in range(2)
    )
    await asyncio.gather(one.run_until_idle(), two.run_until_idle())
    applied = [o for r in (one, two) for o in r.outcomes if o.outcome == "applied"]
    positions = [o.position for o in applied]
    assert len(positions) == len(set(positions)) == len(HAPPY["events"])
    key = applied[0].key
    assert key is not None
    assert await status(store, key) == "closed"


async def test_run_loop_follows_the_log_until_stopped(store: SqlStore) -> None:
    runner = FlowRunner(store, [build_flow()])
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, idle_seconds=0.01))
    [placed] = events_of(HAPPY, "order.placed")
    await store.append_events(placed)
    target = (await store.read_events(0))[-1].position
    for _ in range(3000):  # up to 30 s; not a timing assert, only a bound on waiting
        if await runner.position() >= target:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task
    commands = await store.queue_depth()
    assert commands == {"netsuite": 2, "salesforce": 1}  # customer + order; the CRM Account


async def _replay_all(path: Path, db: Path, per_commit: int) -> dict[str, Any]:
    doc = read(path)
    opened = SQLiteStore(db)
    await opened.start()
    try:
        for canonical_id, system, external_id in doc["links"]:
            await opened.link(canonical_id, system, external_id)
        await opened.append_events(*(Event.model_validate(e) for e in doc["events"]))
        runner = FlowRunner(opened, [build_flow(doc)], events_per_commit=per_commit)
        await runner.run_until_idle()
        keys = sorted({o.key for o in runner.outcomes if o.key is not None})
        states = {}
        for key in keys:
            found = await opened.get_flow_state("order_fulfilment", key)
            states[key] = None if found is None else found.state["state"]
        return {
            "commands": sorted(
                (c.idempotency_key, c.kind, json.dumps(c.payload, sort_keys=True, default=str))
                for o in runner.outcomes
                for c in o.commands
            ),
            "events": sorted(e.id for o in runner.outcomes for e in o.events),
            "states": states,
        }
    finally:
        await opened.close()


@pytest.mark.parametrize(
    "path",
    sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".golden.json")),
    ids=lambda p: p.stem,
)
async def test_committing_many_events_at_once_decides_the_same(path: Path, tmp_path: Path) -> None:
    one = await _replay_all(path, tmp_path / "one.db", 1)
    many = await _replay_all(path, tmp_path / "many.db", 16)
    assert many == one
    assert one["commands"]
