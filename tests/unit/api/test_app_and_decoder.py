"""The app on a real SQLite store (in-process ASGI client) and the decode worker's outcomes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from crossdock.api import IngressSettings, Readiness, create_app
from crossdock.backbone import Delivery, InboxStatus
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.hub import ConnectorInbound, DecodeWorker
from crossdock.observability import HubMetrics, render_metrics

from .conftest import URL_TOKEN, parcel_signature


@pytest.fixture
async def client(
    store: SQLiteStore, signed: ConnectorInbound, tokened: ConnectorInbound
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        store,
        {"parcel": signed, "wms": tokened},
        ingress=IngressSettings(max_body_bytes=1024),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http_client:
        yield http_client


def _body(parcel: int, **extra: object) -> bytes:
    return json.dumps({"id": parcel, "status": "in_transit", **extra}).encode()


async def test_the_url_token_may_be_in_the_path_or_the_query(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    in_path = await client.post(f"/hooks/wms/{URL_TOKEN}", content=_body(1))
    in_query = await client.post("/hooks/wms", params={"token": URL_TOKEN}, content=_body(2))
    wrong = await client.post("/hooks/wms/guess", content=_body(3))
    missing = await client.post("/hooks/wms", content=_body(4))
    assert (in_path.status_code, in_query.status_code) == (200, 200)
    assert (wrong.status_code, missing.status_code) == (401, 401)
    stored = await store.list_inbox(InboxStatus.RECEIVED)
    assert sorted(item.dedupe_key for item in stored) == ["parcel:1", "parcel:2"]
    assert {item.source for item in stored} == {"wms"}


async def test_a_signed_delivery_without_an_id_is_keyed_by_its_hash(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    body = b"[1, 2, 3]"
    answer = await client.post("/hooks/parcel", content=body, headers=parcel_signature(body))
    assert answer.status_code == 200
    (item,) = await store.list_inbox(InboxStatus.RECEIVED)
    assert item.dedupe_key.startswith("sha256:")
    assert item.headers == {"x-parcel-signature": parcel_signature(body)["X-Parcel-Signature"]}


async def test_a_declared_length_above_the_limit_is_refused_before_reading(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    body = _body(5, pad="p" * 2000)
    answer = await client.post("/hooks/parcel", content=body, headers=parcel_signature(body))
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
    assert answer.headers["x-correlation-id"]
    assert await store.list_inbox(InboxStatus.RECEIVED) == []


async def test_readiness_reports_the_probe_and_its_reasons(store: SQLiteStore) -> None:
    async def not_ready() -> Readiness:
        return Readiness(False, ("schema at version 1, this code needs 2",))

    async def broken() -> Readiness:
        raise RuntimeError("probe bug")

    for probe, reason in ((not_ready, "schema at version 1"), (broken, "probe bug")):
        app = create_app(store, {}, readiness=probe)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as http:
            answer = await http.get("/readyz")
        assert answer.status_code == 503
        assert reason in answer.json()["reasons"][0]


async def _record(store: SQLiteStore, source: str, body: bytes, key: str) -> int:
    record = await store.record_delivery(Delivery(source, key, body, {}, f"corr-{key}"))
    return record.inbox_id


async def test_the_decoder_settles_each_row_by_what_decoding_did(
    store: SQLiteStore, signed: ConnectorInbound
) -> None:
    metrics = HubMetrics()
    decoder = DecodeWorker(store, {"parcel": signed}, metrics=metrics, lease_seconds=60)
    good = await _record(store, "parcel", _body(10), "good")
    malformed = await _record(store, "parcel", b"{nope", "malformed")
    quarantined = await _record(store, "parcel", _body(11, quarantine="2.5 kg"), "quarantine")
    deferred = await _record(store, "parcel", _body(12, retry=True), "retry")
    orphan = await _record(store, "gone", _body(13), "orphan")

    assert await decoder.drain() == 5

    async def row(inbox_id: int) -> tuple[InboxStatus, str | None]:
        item = await store.get_inbox(inbox_id)
        assert item is not None
        return item.status, item.reason

    assert await row(good) == (InboxStatus.DECODED, None)
    status, reason = await row(malformed)
    assert status is InboxStatus.DEAD
    assert reason is not None
    assert reason.startswith("JSONDecodeError: ")
    assert await row(quarantined) == (
        InboxStatus.DEAD,
        "quarantined: weights disagree (difference 2.5 kg)",
    )
    assert await row(deferred) == (InboxStatus.RECEIVED, None)  # claimed until its lease ends
    assert await row(orphan) == (
        InboxStatus.DEAD,
        "no configured inbound system is named 'gone'",
    )
    (event,) = await store.events_by_correlation("corr-good")
    assert (event.event.type, event.event.subject) == ("shipment.updated", "parcel:10")
    text = render_metrics(metrics).decode()
    assert 'crossdock_inbox_decoded_total{outcome="decoded",source="parcel"} 1.0' in text
    assert 'crossdock_inbox_decoded_total{outcome="quarantined",source="parcel"} 1.0' in text
    assert 'crossdock_inbox_decoded_total{outcome="retry",source="parcel"} 1.0' in text


class _SettledElsewhere:
    """The parcel system, except that while parcel 21 decodes, another worker settles its row.

    (As a worker that took the row over after this one's lease ran out would.)
    """

    name = "parcel"

    def __init__(self, inner: ConnectorInbound, store: SQLiteStore) -> None:
        self.inner = inner
        self.store = store
        self.kept_headers = inner.kept_headers
        self.dedupe_key = inner.dedupe_key
        self.verify = inner.verify

    async def decode(self, delivery: Delivery) -> Sequence[Event]:
        if json.loads(delivery.body)["id"] == 21:
            rows = await self.store.list_inbox(InboxStatus.RECEIVED)
            (row,) = [r for r in rows if r.dedupe_key == delivery.dedupe_key]
            await self.store.mark_inbox(row, InboxStatus.DEAD, "settled by another worker")
        return await self.inner.decode(delivery)


async def test_a_lost_claim_fails_only_its_own_row_of_the_batch(
    store: SQLiteStore, signed: ConnectorInbound
) -> None:
    decoder = DecodeWorker(store, {"parcel": _SettledElsewhere(signed, store)})
    first = await _record(store, "parcel", _body(20), "p20")
    lost = await _record(store, "parcel", _body(21), "p21")
    third = await _record(store, "parcel", _body(22), "p22")
    assert await decoder.run_once() == 3
    settled = {}
    for inbox_id in (first, lost, third):
        item = await store.get_inbox(inbox_id)
        assert item is not None
        settled[inbox_id] = (item.status, item.reason)
    assert settled == {
        first: (InboxStatus.DECODED, None),
        lost: (InboxStatus.DEAD, "settled by another worker"),  # this worker's write refused
        third: (InboxStatus.DECODED, None),
    }
    assert await store.events_by_correlation("corr-p21") == []
    assert len(await store.events_by_correlation("corr-p22")) == 1
