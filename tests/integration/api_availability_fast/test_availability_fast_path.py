"""The GET fast path of ``/v1/availability`` answers byte for byte as the router does.

Two real servers on loopback share one read model: the hub's app (`create_app`, whose
`AvailabilityFastPath` answers the GET form before routing) and an app with only the
`availability_router`. Every query is sent raw to both and the answers compared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams
from yarl import URL

from crossdock.api import create_app
from crossdock.api.availability import _parse_query, availability_router
from crossdock.availability import DEFAULT_CHANNEL, AvailabilityReadModel, AvailabilitySettings
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType
from crossdock.canonical.ids import is_hub_id
from crossdock.canonical.inventory import InventoryLevel
from crossdock.runtime.clock import ManualClock
from crossdock.sandbox.kit import serve

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ODD_SKU = "ÄPFEL 1+2%"


def _level(
    sku: str,
    location: str,
    available: int,
    *,
    at: datetime = START,
    source: str = "netsuite",
    on_hand: int | None = None,
) -> Event:
    level = InventoryLevel(
        sku=sku, location=location, on_hand=on_hand, available=available, as_of=at, source=source
    )
    return Event(
        source=source,
        type=EventType.INVENTORY_CHANGED.value,
        subject=f"{sku}@{location}",
        correlationid="c-1",
        time=at,
        data=level.model_dump(mode="json"),
    )


class Pair:
    """The hub's app and a router-only app, serving one model."""

    def __init__(self, fast_url: str, router_url: str, model: AvailabilityReadModel) -> None:
        self.fast_url = fast_url
        self.router_url = router_url
        self.model = model

    async def get(self, base: str, query: str, **headers: str) -> tuple[int, bytes, str]:
        """Send `query` as it is (no re-encoding); return status, raw body, correlation id."""
        url = URL(f"{base}/v1/availability?{query}", encoded=True)
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, headers=headers) as response,
        ):
            body = await response.read()
            return response.status, body, response.headers.get("X-Correlation-Id", "")


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    clock = ManualClock(START + timedelta(seconds=7.2345))
    store = SQLiteStore(tmp_path / "hub.db", clock=clock)
    await store.start()
    await store.append_events(
        _level("SKU-1", "WH1", 12, on_hand=15),
        _level("SKU-1", "WH1", 11, at=START - timedelta(seconds=30), source="edi3pl"),
        _level("SKU-1", "WH2", 4, on_hand=4),
        _level(ODD_SKU, "WH1", 5),  # no on_hand: null
        _level("SKU-2", "WH2", 7, at=START - timedelta(hours=2)),  # older than the target
    )
    settings = AvailabilitySettings(
        latency_target=timedelta(seconds=60),
        safety_stock={"SKU-1": 1},
        channel_buffers={"web": 2},
    )
    model = AvailabilityReadModel(store, settings, clock=clock)
    await model.start()
    model.set_reserved("SKU-1", "WH1", 3)
    router_only = FastAPI()
    router_only.include_router(availability_router(model))
    try:
        async with (
            serve(create_app(store, {}, availability=model)) as fast,
            serve(router_only) as routed,
        ):
            yield Pair(fast.base_url, routed.base_url, model)
    finally:
        await store.close()


QUERIES = [
    "sku=SKU-1&location=WH1",
    "sku=SKU-1&location=WH1&channel=web",
    "location=WH1&sku=SKU-1&channel=",
    "sku=SKU-1&sku=&location=WH1",
    "sku=SKU-1&location=WH1&location=WH2",
    "sku=SKU-1&location=WH1&location=",
    "sku=SKU-1&location=WH1&channel=web&channel=",
    "sku=%C3%84PFEL%201%2B2%25&location=WH1",
    "sku=SKU+1&location=WH1",
    "sku=NOPE&location=WH1",
    "sku=SKU-1&location=WH1;channel=web",
    "sku=SKU-2&location=WH2",
    "sku=SKU-1",
    "sku=SKU-1&sku=SKU-2&sku=NOPE&channel=web",
    "sku",
    "",
]


@pytest.mark.parametrize("erp_down", [False, True], ids=["erp-up", "erp-down"])
async def test_every_query_is_answered_as_the_router_answers_it(pair: Pair, erp_down: bool) -> None:
    pair.model.set_erp_down(erp_down)
    statuses = set()
    for query in QUERIES:
        fast = await pair.get(pair.fast_url, query)
        routed = await pair.get(pair.router_url, query)
        assert fast[:2] == routed[:2], query
        statuses.add(fast[0])
    assert statuses == {200, 404, 422}


async def test_the_answer_carries_its_age_and_every_source(pair: Pair) -> None:
    status, body, _ = await pair.get(pair.fast_url, "sku=SKU-1&location=WH1&channel=web")
    assert status == 200
    assert body.decode() == (
        '{"sku":"SKU-1","location":"WH1","channel":"web","available_to_promise":6,'
        '"on_hand":15,"source_available":12,"reserved":3,"safety_stock":1,"channel_buffer":2,'
        '"as_of":"2026-03-01T12:00:00+00:00","age_seconds":7.234,"stale":false,'
        '"sources":{"netsuite":{"as_of":"2026-03-01T12:00:00+00:00","age_seconds":7.234},'
        '"edi3pl":{"as_of":"2026-03-01T11:59:30+00:00","age_seconds":37.234}}}'
    )
    status, body, _ = await pair.get(pair.fast_url, "sku=%C3%84PFEL%201%2B2%25&location=WH1")
    assert status == 200
    assert b'"sku":"\\u00c4PFEL 1+2%"' in body
    assert b'"on_hand":null' in body


async def test_the_correlation_id_is_echoed_when_well_formed(pair: Pair) -> None:
    query = "sku=SKU-1&location=WH1"
    *_, echoed = await pair.get(pair.fast_url, query, **{"X-Correlation-Id": "req-42.a:b"})
    assert echoed == "req-42.a:b"
    *_, replaced = await pair.get(pair.fast_url, query, **{"X-Correlation-Id": "bad id!"})
    *_, made = await pair.get(pair.fast_url, "sku=NOPE&location=WH1")
    assert is_hub_id(replaced)
    assert is_hub_id(made)


def _as_the_router_reads(raw: bytes) -> tuple[list[str], str | None, str]:
    query = QueryParams(raw)  # what `Request.query_params` gives the router
    return (
        query.getlist("sku"),
        query.get("location") or None,
        query.get("channel") or DEFAULT_CHANNEL,
    )


_QUERY_BYTES = st.lists(
    st.sampled_from(
        [
            *(b"sku", b"location", b"channel", b"=", b"&", b";", b"%", b"%2B", b"%C3%84", b"+"),
            *(b"a", b"WH1", b"\xc3\x84", b" ", b"x=y"),
        ]
    ),
    max_size=12,
).map(b"".join)


@given(_QUERY_BYTES)
def test_the_query_is_read_as_the_router_reads_it(raw: bytes) -> None:
    assert _parse_query(raw) == _as_the_router_reads(raw)
