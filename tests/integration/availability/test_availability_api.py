"""``/v1/availability`` on the real API (uvicorn on loopback), served from the read model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crossdock.api import create_app
from crossdock.availability import AvailabilityReadModel, AvailabilitySettings
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience.breaker import BreakerConfig, CircuitBreaker
from crossdock.sandbox.kit import serve

LevelEvent = Callable[..., Event]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Hub:
    """The API with its read model, its clock and the ERP's breaker."""

    def __init__(
        self,
        base_url: str,
        model: AvailabilityReadModel,
        clock: ManualClock,
        breaker: CircuitBreaker,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.clock = clock
        self.breaker = breaker

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.base_url + path, **kwargs) as response,
        ):
            return response.status, await response.json()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.base_url + path, json=body) as response,
        ):
            return response.status, await response.json()


@pytest.fixture
async def hub(tmp_path: Path, make_level: LevelEvent) -> AsyncIterator[Hub]:
    clock = ManualClock(START)
    store = SQLiteStore(tmp_path / "hub.db", clock=clock)
    await store.start()
    await store.append_events(
        make_level("SKU-1", "WH1", 12, at=START),
        make_level("SKU-1", "WH2", 4, at=START),
        make_level("SKU-2", "WH1", 30, at=START, source="edi3pl"),
    )
    breaker = CircuitBreaker("netsuite", config=BreakerConfig(failure_threshold=1), clock=clock)
    settings = AvailabilitySettings(
        latency_target=timedelta(seconds=60), channel_buffers={"web": 2}
    )
    model = AvailabilityReadModel(store, settings, clock=clock, erp_breakers=[breaker])
    await model.start()
    try:
        async with serve(create_app(store, {}, availability=model)) as server:
            yield Hub(server.base_url, model, clock, breaker)
    finally:
        await store.close()


async def test_one_sku_at_one_location(hub: Hub) -> None:
    hub.clock.advance(5)
    status, body = await hub.get("/v1/availability", params={"sku": "SKU-1", "location": "WH1"})
    assert status == 200
    assert body["available_to_promise"] == 12
    assert body["as_of"] == START.isoformat()
    assert body["age_seconds"] == 5.0
    assert body["stale"] is False
    assert body["sources"] == {"netsuite": {"as_of": START.isoformat(), "age_seconds": 5.0}}
    status, web = await hub.get(
        "/v1/availability", params={"sku": "SKU-1", "location": "WH1", "channel": "web"}
    )
    assert web["available_to_promise"] == 10


async def test_unknown_sku_is_a_404_with_a_clear_body(hub: Hub) -> None:
    status, body = await hub.get("/v1/availability", params={"sku": "NOPE", "location": "WH1"})
    assert status == 404
    assert body["sku"] == "NOPE"
    assert "no source has reported stock" in body["detail"]
    status, body = await hub.get("/v1/availability")
    assert status == 422
    assert body["title"] == "missing sku"


async def test_batch_forms(hub: Hub) -> None:
    status, body = await hub.get(
        "/v1/availability", params=[("sku", "SKU-1"), ("sku", "SKU-2"), ("sku", "NOPE")]
    )
    assert status == 200
    assert sorted((i["sku"], i["location"]) for i in body["items"]) == [
        ("SKU-1", "WH1"),
        ("SKU-1", "WH2"),
        ("SKU-2", "WH1"),
    ]
    assert body["unknown"] == [{"sku": "NOPE", "location": None}]
    status, body = await hub.post(
        "/v1/availability/batch",
        {"channel": "web", "items": [{"sku": "SKU-2", "location": "WH1"}, {"sku": "X"}]},
    )
    assert status == 200
    assert [i["available_to_promise"] for i in body["items"]] == [28]
    assert body["unknown"] == [{"sku": "X", "location": None}]
    status, body = await hub.post("/v1/availability/batch", {"items": [{"location": "WH1"}]})
    assert status == 422
    assert "items[0]" in body["detail"]


async def test_with_the_erp_down_availability_is_served_stale_with_its_age(hub: Hub) -> None:
    await hub.breaker.record_failure(await hub.breaker.before_call())
    assert await hub.model.refresh_health() is True
    status, body = await hub.get("/v1/availability", params={"sku": "SKU-1", "location": "WH2"})
    assert status == 200
    assert body["stale"] is True
    assert body["available_to_promise"] == 4
    assert body["age_seconds"] == 0.0

    await hub.breaker.record_success(await _probe(hub))
    assert await hub.model.refresh_health() is False
    hub.clock.advance(90)  # no update for longer than the 60 s latency target
    status, body = await hub.get("/v1/availability", params={"sku": "SKU-1", "location": "WH2"})
    assert status == 200
    assert body["stale"] is True
    assert body["age_seconds"] == hub.breaker.config.open_seconds + 90


async def _probe(hub: Hub) -> Any:
    hub.clock.advance(hub.breaker.config.open_seconds)
    return await hub.breaker.before_call()
