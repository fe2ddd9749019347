"""The 40-per-minute quota (scaled down): a raw burst earns 429s, the connector's budget waits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from crossdock.connectors.shipstation import ShipStationConnector, shipstation_budget
from crossdock.sandbox.kit import RunningServer, serve
from crossdock.sandbox.shipstation import ShipStationSimulator

from .conftest import ConnectorFactory

LIMIT = 5
WINDOW_S = 1.0


@pytest.fixture
def sim() -> ShipStationSimulator:
    """An account whose quota is 5 requests per second (the real one: 40 per minute)."""
    return ShipStationSimulator(rate_limit=LIMIT, rate_window_s=WINDOW_S)


@pytest.fixture
async def server(sim: ShipStationSimulator) -> AsyncIterator[RunningServer]:
    async with serve(sim.app) as running:
        yield running


async def test_a_burst_beyond_the_quota_gets_429_with_the_window_headers(
    sim: ShipStationSimulator, server: RunningServer, raw: aiohttp.ClientSession
) -> None:
    limits = {"limit": LIMIT, "window_s": 60}  # a minute: the burst cannot straddle two windows
    async with raw.post(f"{server.base_url}/_sandbox/shipstation/limits", json=limits) as response:
        assert response.status == 200
    creds = sim.credentials_for(server.base_url)
    auth = {"Authorization": aiohttp.encode_basic_auth(creds["api_key"], creds["api_secret"])}
    answers = []
    for _ in range(LIMIT + 3):
        async with raw.get(f"{server.base_url}/orders", headers=auth) as response:
            answers.append(
                (
                    response.status,
                    response.headers["X-Rate-Limit-Limit"],
                    int(response.headers["X-Rate-Limit-Remaining"]),
                    int(response.headers["X-Rate-Limit-Reset"]),
                )
            )
            body = await response.json()

    assert [a[0] for a in answers] == [200] * LIMIT + [429] * 3
    assert {a[1] for a in answers} == {str(LIMIT)}
    assert [a[2] for a in answers[:LIMIT]] == [4, 3, 2, 1, 0]
    assert all(1 <= a[3] <= 60 for a in answers)
    assert body == {"Message": "Too Many Requests"}


async def test_the_connector_budget_waits_instead_of_earning_429(
    sim: ShipStationSimulator, server: RunningServer, make_connector: ConnectorFactory
) -> None:
    connector: ShipStationConnector = make_connector(
        rate_budget=shipstation_budget("shipstation:test", limit=40, window=WINDOW_S)
    )

    for _ in range(2 * LIMIT + 2):
        await connector.find_order("no-such-key", "#1")

    statuses = [r.status for r in sim.requests.recent(path_prefix="/orders")]
    assert len(statuses) == 2 * LIMIT + 2
    assert set(statuses) == {200}
    assert connector.rate_budget.limit == LIMIT  # adopted from X-Rate-Limit-Limit
