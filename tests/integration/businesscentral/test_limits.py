"""Operational limits: 429 with Retry-After, and a budget that keeps under both of BC's limits."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from crossdock.connectorkit import PermanentFailureError, RateLimitedError
from crossdock.connectors.businesscentral import BusinessCentralBudget
from crossdock.runtime.resilience import Unlimited
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import ConnectorFactory, admin


async def test_a_429_is_rate_limited_with_its_retry_after(
    make_connector: ConnectorFactory, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    await admin(raw, server, "businesscentral/settings", {"rate_limit": 2, "rate_window_s": 60})
    budget = BusinessCentralBudget("businesscentral:test", limit=100)
    connector = make_connector(rate_budget=budget)
    await connector.companies()
    await connector.companies()

    with pytest.raises(RateLimitedError) as limited:
        await connector.companies()

    assert not isinstance(limited.value, PermanentFailureError)
    classification = limited.value.classification
    assert classification is not None
    assert classification.codes == ("Application_TooManyRequests",)
    assert limited.value.retry_after is not None
    assert 1 <= limited.value.retry_after <= 60
    assert budget.wait_time() > 1  # the budget pauses for the Retry-After too


async def test_the_window_budget_never_draws_a_429(
    make_connector: ConnectorFactory,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"rate_limit": 3, "rate_window_s": 0.5})
    budget = BusinessCentralBudget("businesscentral:window", limit=3, window=0.5)
    connector = make_connector(rate_budget=budget)

    await asyncio.gather(*(connector.companies() for _ in range(7)))

    assert sim.limits.refused == 0
    assert budget.granted == 7


async def test_more_than_five_at_once_is_refused_unless_the_budget_holds_them_back(
    make_connector: ConnectorFactory,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    await admin(raw, server, "businesscentral/settings", {"handler_delay_s": 0.3})
    unbudgeted = make_connector(rate_budget=Unlimited("businesscentral:free"))
    await unbudgeted.companies()

    results = await asyncio.gather(
        *(unbudgeted.companies() for _ in range(7)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, RateLimitedError)]
    assert refused  # 7 at once against 5 slots (2 when all 7 arrive within the delay)
    assert all(r.retry_after == 1 for r in refused)
    assert sim.limits.refused == len(refused)

    budget = BusinessCentralBudget("businesscentral:slots")  # 5 in flight
    budgeted = make_connector(rate_budget=budget)
    await asyncio.gather(*(budgeted.companies() for _ in range(7)))
    assert sim.limits.refused == len(refused)  # no new refusal
    assert budget.granted == 7
