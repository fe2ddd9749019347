"""The running hub gives every connector a breaker whose state lives in the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.governance import parse_governance
from crossdock.hub import Hub
from crossdock.runtime.resilience import BreakerOpenError, StoreBreakerStateStore
from crossdock.runtime.resilience.breaker import CircuitBreaker

from .conftest import SECRET, governance_text


async def test_a_connector_breaker_opens_in_the_store_with_the_governance_thresholds(
    tmp_path: Path,
) -> None:
    text = governance_text(tmp_path / "hub.db").replace(
        'settings.shop_domain = "',
        'breaker = { failure_threshold = 2, open_for = "45s" }\nsettings.shop_domain = "',
    )
    hub = Hub(parse_governance(text), port=0, environ={"TEST_SHOP_WEBHOOK_SECRET": SECRET})
    await hub.start()
    try:
        assert hub.store is not None
        breaker = hub.systems["shop"].connector.breaker
        assert breaker.config.failure_threshold == 2
        assert breaker.config.open_seconds == 45
        for _ in range(2):
            ticket = await breaker.before_call()
            await breaker.record_failure(ticket)
        stored = {status.destination: status for status in await hub.store.list_breakers()}
        assert stored["shop"].state == "open"
        # Another breaker on the same store (another worker or process) refuses calls too.
        other = CircuitBreaker(
            "shop", store=StoreBreakerStateStore(hub.store), config=breaker.config
        )
        assert (await other.state()).value == "open"
        with pytest.raises(BreakerOpenError):
            await other.before_call()
    finally:
        await hub.stop()
