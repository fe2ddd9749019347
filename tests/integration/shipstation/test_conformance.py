"""The standard connector battery, written by hand (the kit has no conformance factory yet).

Auth refused, every error class, the rate budget respected (test_rate_limit.py), the breaker
opening and recovering, an idempotent retry after a timeout, a refused hook token and a
duplicate delivery (test_ship_notify.py).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import (
    AuthFailedError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectors.shipstation import RELEASE_COMMAND, ShipStationConnector
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    Unlimited,
)
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.shipstation import ShipStationSimulator

from .conftest import ConnectorFactory


async def _faults(raw: aiohttp.ClientSession, server: RunningServer, **spec: Any) -> None:
    async with raw.post(f"{server.base_url}/_sandbox/faults", json=spec) as response:
        assert response.status == 200, await response.text()


async def _clear(raw: aiohttp.ClientSession, server: RunningServer) -> None:
    async with raw.delete(f"{server.base_url}/_sandbox/faults") as response:
        assert response.status == 200


async def test_a_refused_key_pair_is_an_auth_failure(make_connector: ConnectorFactory) -> None:
    connector = make_connector(api_secret="wrong-secret")

    with pytest.raises(AuthFailedError, match="refused the API key pair") as refused:
        await connector.get_order(1)
    assert refused.value.classification is not None
    assert refused.value.classification.status == 401


async def test_an_unknown_order_is_permanent(connector: ShipStationConnector) -> None:
    with pytest.raises(PermanentFailureError, match="not found in ShipStation"):
        await connector.get_order(999)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried(
    connector: ShipStationConnector,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    status: int,
) -> None:
    await _faults(raw, server, error_rate=1.0, error_status=status)

    with pytest.raises(RetryLaterError) as failed:
        await connector.find_order("k", "#1")
    assert not isinstance(failed.value, RateLimitedError)
    assert failed.value.classification is not None
    assert failed.value.classification.status == status


async def test_a_429_is_rate_limited_until_the_window_resets(
    make_connector: ConnectorFactory, raw: aiohttp.ClientSession, server: RunningServer
) -> None:
    async with raw.post(
        f"{server.base_url}/_sandbox/shipstation/limits", json={"limit": 1, "window_s": 60}
    ) as response:
        assert response.status == 200
    connector = make_connector(rate_budget=Unlimited("shipstation:unbudgeted"))

    await connector.find_order("k", "#1")
    with pytest.raises(RateLimitedError) as limited:
        await connector.find_order("k", "#1")
    assert limited.value.retry_after is not None
    assert 1 <= limited.value.retry_after <= 60


async def test_the_breaker_opens_on_an_outage_and_recovers(
    make_connector: ConnectorFactory,
    sim: ShipStationSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(
        "shipstation:test", config=BreakerConfig(failure_threshold=2, open_seconds=30), clock=clock
    )
    connector = make_connector(breaker=breaker)
    await _faults(raw, server, outage_s=300)

    for _ in range(2):
        with pytest.raises(RetryLaterError):
            await connector.find_order("k", "#1")
    seen = len(sim.requests.recent(path_prefix="/orders"))
    with pytest.raises(RetryLaterError, match="open"):
        await connector.find_order("k", "#1")
    assert len(sim.requests.recent(path_prefix="/orders")) == seen  # refused without a call
    assert await breaker.state() is BreakerState.OPEN

    await _clear(raw, server)
    clock.advance(31)
    assert await connector.find_order("k", "#1") is None
    assert await breaker.state() is BreakerState.CLOSED


async def test_a_release_that_timed_out_is_resent_safely(
    connector: ShipStationConnector,
    sim: ShipStationSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    order_json: dict[str, Any],
) -> None:
    connector.default_timeout = 0.5  # type: ignore[misc]
    command = Command("flow-9:release", "shipstation", RELEASE_COMMAND, {"order": order_json})
    await _faults(raw, server, hang_rate=1.0, fault_phase="after")

    with pytest.raises(RetryLaterError, match="safe to resend"):
        await connector.perform(command)
    assert len(sim.state.orders) == 1  # the effect happened; the answer was lost

    await _clear(raw, server)
    result = await connector.perform(command, attempt=2)

    assert len(sim.state.orders) == 1
    effects = sim.effects.get("order", order_json["id"])
    assert effects is not None
    assert (effects.attempts, effects.created, effects.duplicates_absorbed) == (2, 1, 1)
    assert result["order_status"] == "awaiting_shipment"
