"""The parts the hub's flow wiring adds, each against a real SQLite store.

- a dead command (permanent, or out of attempts) appends ``command.failed`` atomically;
- the outbound handler appends the catalogue's result event with the completion;
- the order flow's stock port: the availability read model with its holds;
- the role of a destination and the CRM's consumer adaptation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crossdock.availability import AvailabilityReadModel, Reservations
from crossdock.availability.promise import ReservingAvailability
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command, CommandStatus
from crossdock.canonical.commands import COMMAND_FAILED
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.hub.outbound import adapt, role_for
from crossdock.runtime.errors import PermanentError, RetryableError
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool

INSTANCE = {"flow": "order_fulfilment", "key": "order-1"}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await s.start()
    yield s
    await s.close()


def _config() -> WorkerConfig:
    return WorkerConfig(
        concurrency=2,
        batch_size=2,
        lease_seconds=5.0,
        idle_min_seconds=0.01,
        idle_max_seconds=0.05,
        depth_every=None,
        stop_when_empty=True,
    )


def _command(key: str, kind: str = "sales_order.create", max_attempts: int = 10) -> Command:
    return Command(
        idempotency_key=key,
        destination="netsuite",
        kind=kind,
        payload={"order_id": "order-1", "instance": INSTANCE},
        max_attempts=max_attempts,
        correlation_id="corr-1",
    )


async def _failed_events(store: SQLiteStore) -> list[Event]:
    return [s.event for s in await store.read_events(0) if s.event.type == COMMAND_FAILED]


async def test_a_permanent_failure_appends_command_failed_with_the_dead_letter(
    store: SQLiteStore,
) -> None:
    await store.enqueue(_command("k-permanent"))

    async def refuse(_claim: ClaimedCommand) -> HandlerResult:
        raise PermanentError("customer missing", detail="create it first")

    await asyncio.wait_for(WorkerPool(store, {"netsuite": refuse}, _config()).run(), 30)
    record = await store.find_command("k-permanent")
    assert record is not None
    assert record.status is CommandStatus.DEAD
    [event] = await _failed_events(store)
    assert event.subject == "order-1"
    assert event.correlationid == "corr-1"
    assert event.data["command"] == "sales_order.create"
    assert event.data["destination"] == "netsuite"
    assert event.data["instance"] == INSTANCE
    assert "customer missing" in event.data["reason"]


async def test_running_out_of_attempts_appends_command_failed_once(store: SQLiteStore) -> None:
    await store.enqueue(_command("k-retry", max_attempts=2))
    calls = 0

    async def flaky(_claim: ClaimedCommand) -> HandlerResult:
        nonlocal calls
        calls += 1
        raise RetryableError("the ERP is down", retry_after=0.01)

    await asyncio.wait_for(WorkerPool(store, {"netsuite": flaky}, _config()).run(), 30)
    record = await store.find_command("k-retry")
    assert record is not None
    assert record.status is CommandStatus.DEAD
    assert calls == 2
    [event] = await _failed_events(store)
    assert "out of attempts" in event.data["reason"]
    assert "the ERP is down" in event.data["reason"]


async def test_a_retry_that_is_not_the_last_appends_nothing(store: SQLiteStore) -> None:
    await store.enqueue(_command("k-once"))
    calls = 0

    async def once(_claim: ClaimedCommand) -> HandlerResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryableError("busy", retry_after=0.01)
        return HandlerResult(result={"ok": True})

    await asyncio.wait_for(WorkerPool(store, {"netsuite": once}, _config()).run(), 30)
    record = await store.find_command("k-once")
    assert record is not None
    assert record.status is CommandStatus.DONE
    assert await _failed_events(store) == []


def _level(sku: str, location: str, available: int, as_of: str) -> Event:
    data: dict[str, Any] = {
        "schema_version": "inventory_level.v1",
        "sku": sku,
        "location": location,
        "available": available,
        "as_of": as_of,
        "source": "test",
    }
    return Event(
        id=new_id(),
        source="test",
        type="inventory.changed",
        subject=f"{sku}@{location}",
        correlationid=new_id(),
        data=data,
        time=datetime.now(UTC),
    )


async def test_availability_is_the_latest_level_per_location_summed(store: SQLiteStore) -> None:
    model = AvailabilityReadModel(store)
    availability = ReservingAvailability(model, Reservations(store, model))
    assert await availability.available(["A"]) == {"A": None}
    await store.append_events(
        _level("A", "east", 5, "2026-11-27T10:00:00+00:00"),
        _level("A", "west", 7, "2026-11-27T10:00:00+00:00"),
        _level("A", "east", 2, "2026-11-27T11:00:00+00:00"),
        _level("A", "west", 100, "2026-11-27T09:00:00+00:00"),  # late and stale: ignored
        _level("B", "east", 0, "2026-11-27T10:00:00+00:00"),
    )
    assert await availability.available(["A", "B", "C"]) == {"A": 9, "B": 0, "C": None}
    assert {loc: model.lookup("A", loc).available_to_promise for loc in ("east", "west")} == {  # type: ignore[union-attr]
        "east": 2,
        "west": 7,
    }
    assert model.position == 5


def test_the_role_comes_from_the_catalogue_or_the_flow_configuration() -> None:
    assert role_for("sales_order.create", frozenset()) == "erp"
    assert role_for("order.release", frozenset()) == "warehouse"
    assert role_for("customer.upsert", frozenset({"crm", "channel"})) == "crm"
    assert role_for("customer.upsert", frozenset({"erp"})) == "erp"
    assert role_for("customer.upsert", frozenset()) is None
    assert role_for("inventory.set", frozenset({"channel"})) is None


def test_a_consumer_reaches_the_crm_as_a_one_person_account() -> None:
    customer = {"id": "c-1", "kind": "consumer", "first_name": "Ada", "last_name": "Byron"}
    command = Command(
        idempotency_key="k",
        destination="salesforce",
        kind="customer.upsert",
        payload={"customer": customer, "key": {"field": "ERP_Id__c", "value": "c-1"}},
    )
    adapted = adapt(command, "crm")
    assert adapted.payload["customer"]["kind"] == "business"
    assert adapted.payload["customer"]["account"] == {"name": "Ada Byron"}
    assert adapted.payload["key"] == command.payload["key"]
    assert adapt(command, "erp") is command
