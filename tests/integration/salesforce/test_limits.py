"""The daily API allocation: Sforce-Limit-Info on every response; running out means waiting."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.backbone.store import Command, CommandStatus
from crossdock.connectorkit import RateLimitedError
from crossdock.connectors.salesforce import CASE_OPEN, SalesforceConnector
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.errors import PermanentError, RetryableError
from crossdock.runtime.resilience import DailyAllocation
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import admin


def _case(n: int) -> Command:
    return Command(
        idempotency_key=f"case-{n}",
        destination="salesforce",
        kind=CASE_OPEN,
        payload={"exception_id": f"exc-{n}", "subject": f"Exception {n}"},
    )


async def test_every_response_reports_the_usage(
    raw: aiohttp.ClientSession, server: RunningServer, connector: SalesforceConnector
) -> None:
    await connector.query("SELECT Id FROM Account")
    budget = connector.rate_budget
    assert isinstance(budget, DailyAllocation)

    await connector.query("SELECT Id FROM Account")

    assert budget.reported_used == 2
    assert budget.limit == 15000
    limits = await admin(raw, server, "salesforce/limits")
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 14998}


async def test_a_403_request_limit_exceeded_is_rate_limited_not_a_failure(
    raw: aiohttp.ClientSession, server: RunningServer, connector: SalesforceConnector
) -> None:
    await connector.query("SELECT Id FROM Account")  # a token, and a first usage report
    await admin(raw, server, "salesforce/limits", {"limit": 50, "used": 50})

    with pytest.raises(RateLimitedError) as raised:
        await connector.perform(_case(1))
    limited = raised.value
    assert isinstance(limited, RetryableError)
    assert not isinstance(limited, PermanentError)
    assert limited.classification is not None
    assert limited.classification.codes == ("REQUEST_LIMIT_EXCEEDED",)
    assert limited.retry_after == 300.0


async def test_running_out_turns_into_waiting_work_then_it_goes_on(
    raw: aiohttp.ClientSession,
    server: RunningServer,
    sim: SalesforceSimulator,
    connector: SalesforceConnector,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "hub.db", synchronous="NORMAL")
    await store.start()
    try:
        await connector.query("SELECT Id FROM Account")
        await admin(raw, server, "salesforce/limits", {"limit": 10, "used": 7})
        await store.enqueue(*(_case(n) for n in range(5)))
        outcomes: list[str] = []
        # One pass of a worker: what it cannot do now is rescheduled, never dead-lettered.
        for claim in await store.claim("w1", limit=5, lease_seconds=30):
            try:
                result = await connector.perform(claim.command, attempt=claim.attempt)
            except RetryableError as exc:
                await store.fail_retryable(claim, str(exc), retry_after=exc.retry_after)
                outcomes.append("waiting")
            else:
                await store.complete(claim, result=result)
                outcomes.append("done")

        assert outcomes.count("done") == 3
        assert outcomes.count("waiting") == 2
        assert await store.list_dead_letters() == []
        statuses = [
            (await store.find_command(f"case-{n}")).status  # type: ignore[union-attr]
            for n in range(5)
        ]
        assert statuses.count(CommandStatus.PENDING) == 2
        assert len(sim.org.records["Case"]) == 3

        # A day later (on both clocks) the allocation is back and the waiting work is done.
        await admin(raw, server, "salesforce/clock", {"advance_s": 86_401})
        clock.advance(86_401)
        for n in (3, 4):
            await connector.perform(_case(n), attempt=2)
        assert len(sim.org.records["Case"]) == 5
    finally:
        await store.close()
