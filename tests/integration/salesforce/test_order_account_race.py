"""An Order sent before its Account's upsert landed is retried, not dead-lettered.

A returning customer's second order is created by another flow instance (another outbox
partition) than the first order's Account upsert, so Salesforce can see the Order first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import ClaimedCommand, Command, CommandStatus
from crossdock.canonical.customer import Account, Customer
from crossdock.canonical.money import Money
from crossdock.canonical.order import Order, OrderLine, OrderTotals
from crossdock.connectorkit import PermanentFailureError, RetryLaterError
from crossdock.connectors.salesforce import (
    CASE_OPEN,
    CUSTOMER_UPSERT,
    ORDER_CREATE,
    SalesforceConnector,
)
from crossdock.runtime.workers import HandlerResult, WorkerConfig, WorkerPool
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import ConnectorFactory, effects

KEY = "ERP_Id__c"
CUSTOMER = "cust-88"


def _order_command(key: str = "9301", *, max_attempts: int = 10) -> Command:
    order = Order(
        number="#3107",
        channel="shopify:online",
        currency="EUR",
        lines=[
            OrderLine(
                line_id="1",
                sku="CD-TEE-M",
                title="Crossdock T-Shirt M",
                quantity=1,
                unit_price=Money(Decimal("24.00"), "EUR"),
            )
        ],
        totals=OrderTotals(total=Money(Decimal("24.00"), "EUR")),
        status="open",
        placed_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    )
    return Command(
        idempotency_key=f"crm-order-{key}",
        destination="salesforce",
        kind=ORDER_CREATE,
        payload={
            "order": order.model_dump(mode="json"),
            "order_key": key,
            "account": {"field": KEY, "value": CUSTOMER},
        },
        partition_key=f"order:{key}",
        max_attempts=max_attempts,
    )


def _account_command(not_before: datetime | None = None) -> Command:
    customer = Customer(kind="business", account=Account(name="Jonas Weber"))
    return Command(
        idempotency_key=f"crm-customer-{CUSTOMER}",
        destination="salesforce",
        kind=CUSTOMER_UPSERT,
        payload={
            "customer": customer.model_dump(mode="json"),
            "key": {"field": KEY, "value": CUSTOMER},
        },
        partition_key=f"order:earlier/{CUSTOMER}",
        not_before=not_before,
    )


def _pool(store: SQLiteStore, connector: SalesforceConnector) -> WorkerPool:
    async def perform(claim: ClaimedCommand) -> HandlerResult:
        return HandlerResult(await connector.perform(claim.command, attempt=claim.attempt))

    config = WorkerConfig(
        concurrency=1,
        idle_min_seconds=0.01,
        idle_max_seconds=0.05,
        depth_every=None,
        stop_when_empty=True,
    )
    return WorkerPool(store, {"salesforce": perform}, config)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await opened.start()
    yield opened
    await opened.close()


async def test_an_order_before_its_account_is_retryable_and_writes_nothing(
    make_connector: ConnectorFactory, sim: SalesforceSimulator
) -> None:
    connector = make_connector(account_retry_after=3.0)

    with pytest.raises(RetryLaterError) as early:
        await connector.perform(_order_command())

    assert early.value.retry_after == 3.0
    assert f"Account {KEY}={CUSTOMER} is not in Salesforce yet" in str(early.value)
    assert sim.org.records["Order"] == {}
    assert sim.org.records["OrderItem"] == {}

    await connector.perform(_account_command())
    created = await connector.perform(_order_command(), attempt=2)

    (order,) = sim.org.records["Order"].values()
    assert order["Id"] == created["order_id"]
    assert order["StatusCode"] == "Activated"
    (account,) = sim.org.records["Account"].values()
    assert order["AccountId"] == account["Id"]


async def test_the_outbox_retries_the_order_until_the_account_lands(
    make_connector: ConnectorFactory,
    sim: SalesforceSimulator,
    store: SQLiteStore,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    connector = make_connector(account_retry_after=0.1)
    # The Account's upsert (another partition) becomes due only after the Order was tried.
    await store.enqueue(_order_command())
    await store.enqueue(_account_command(datetime.now(UTC) + timedelta(seconds=0.3)))

    await asyncio.wait_for(_pool(store, connector).run(), 60)

    record = await store.find_command("crm-order-9301")
    assert record is not None
    assert record.status is CommandStatus.DONE
    attempts = await store.attempts(record.command_id)  # the failed ones
    assert attempts
    assert {a.outcome for a in attempts} == {"retryable"}
    assert all("is not in Salesforce yet" in str(a.error) for a in attempts)
    assert record.attempts == len(attempts) + 1  # the failed tries, then the one that worked
    assert await store.list_dead_letters(destination="salesforce") == []
    (order,) = sim.org.records["Order"].values()
    (account,) = sim.org.records["Account"].values()
    assert (order["StatusCode"], order["AccountId"]) == ("Activated", account["Id"])
    ledger = (await effects(raw, server))["Order.Shopify_Order_Id__c"]["9301"]
    assert ledger["created"] == 1


async def test_an_account_that_never_comes_dead_letters_after_the_attempt_limit(
    make_connector: ConnectorFactory, sim: SalesforceSimulator, store: SQLiteStore
) -> None:
    connector = make_connector(account_retry_after=0.01)
    await store.enqueue(_order_command(max_attempts=3))

    await asyncio.wait_for(_pool(store, connector).run(), 60)

    (dead,) = await store.list_dead_letters(destination="salesforce")
    assert dead.reason.startswith("out of attempts (3)")
    assert f"Account {KEY}={CUSTOMER} is not in Salesforce yet" in dead.reason
    record = await store.find_command("crm-order-9301")
    assert record is not None
    assert record.attempts == 3
    assert sim.org.records["Order"] == {}


async def test_a_refused_reference_to_an_account_that_exists_stays_permanent(
    make_connector: ConnectorFactory, sim: SalesforceSimulator
) -> None:
    connector = make_connector()
    # Legacy_Id__c is an external id without uniqueness: two Accounts share the value, so
    # Salesforce cannot resolve the reference, and no retry will change that.
    for name in ("Twin A", "Twin B"):
        await connector.rest("POST", "sobjects/Account", json={"Name": name, "Legacy_Id__c": "L-1"})
    command = _order_command()
    command.payload["account"] = {"field": "Legacy_Id__c", "value": "L-1"}

    with pytest.raises(PermanentFailureError) as refused:
        await connector.perform(command)

    assert refused.value.classification is not None
    assert refused.value.classification.codes == ("INVALID_FIELD",)
    assert sim.org.records["Order"] == {}


async def test_a_case_before_its_account_is_retried_too(
    make_connector: ConnectorFactory, sim: SalesforceSimulator
) -> None:
    connector = make_connector(account_retry_after=1.5)
    case = Command(
        idempotency_key="case-exc-9",
        destination="salesforce",
        kind=CASE_OPEN,
        payload={
            "exception_id": "exc-9",
            "subject": "Order #3107 is on fraud hold",
            "account": {"field": KEY, "value": CUSTOMER},
        },
    )

    with pytest.raises(RetryLaterError) as early:
        await connector.perform(case)
    await connector.perform(_account_command())
    opened = await connector.perform(case, attempt=2)

    assert early.value.retry_after == 1.5
    (account,) = sim.org.records["Account"].values()
    assert sim.org.records["Case"][opened["case_id"]]["AccountId"] == account["Id"]
