"""The ingress path end to end: delivery -> verify -> inbox (durable) -> 2xx -> decode -> events.

A real hub (uvicorn on 127.0.0.1 port 0, SQLite in tmp_path, the real Shopify connector).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping

import aiohttp

from crossdock.backbone import InboxStatus
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.hub import Hub

from .conftest import (
    MAX_BODY,
    ORDER_1043,
    all_inbox,
    settled,
    shopify_headers,
    store_of,
)


async def _post(
    client: aiohttp.ClientSession, hub: Hub, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, object], Mapping[str, str]]:
    async with client.post(f"{hub.base_url}/hooks/shop", data=body, headers=headers) as answer:
        payload = await answer.json()
        return answer.status, payload, answer.headers.copy()


async def test_a_signed_delivery_is_stored_then_acknowledged(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    headers = shopify_headers(body, event_id="evt-1") | {"X-Correlation-Id": "corr-signed-1"}
    status, payload, answer_headers = await _post(client, hub, body, headers)
    assert status == 200
    assert payload["status"] == "accepted"
    assert answer_headers["X-Correlation-Id"] == "corr-signed-1"
    item = await store_of(hub).get_inbox(int(str(payload["inbox_id"])))
    assert item is not None
    assert item.source == "shop"
    assert item.body == body
    assert item.dedupe_key == "event:orders/create:evt-1"
    assert item.correlation_id == "corr-signed-1"
    assert item.headers["x-shopify-topic"] == "orders/create"


async def test_a_redelivery_is_acknowledged_and_stored_once(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    headers = shopify_headers(body, event_id="evt-dup")
    first = await _post(client, hub, body, headers)
    again = await _post(client, hub, body, headers)
    assert (first[0], again[0]) == (200, 200)
    assert first[1]["duplicate"] is False
    assert again[1]["duplicate"] is True
    assert again[1]["inbox_id"] == first[1]["inbox_id"]
    assert len(await all_inbox(store_of(hub))) == 1


async def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    wrong = shopify_headers(body, event_id="evt-bad", secret="another-secret")
    missing = {k: v for k, v in wrong.items() if k != "X-Shopify-Hmac-Sha256"}
    tampered = shopify_headers(body, event_id="evt-bad")
    for headers, sent in ((wrong, body), (missing, body), (tampered, body + b" ")):
        status, payload, answer_headers = await _post(client, hub, sent, headers)
        assert status == 401
        assert payload["error"] == "invalid_signature"
        assert answer_headers["X-Correlation-Id"]
    assert await all_inbox(store_of(hub)) == []


async def test_an_oversized_body_is_refused_and_nothing_is_stored(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    status, payload, _ = await _post(client, hub, body, shopify_headers(body, event_id="big"))
    assert status == 413
    assert payload["error"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"y" * 1024

    headers = shopify_headers(b"", event_id="big-chunked")
    url = f"{hub.base_url}/hooks/shop"
    async with client.post(url, data=chunks(), headers=headers) as answer:
        assert answer.status == 413
    assert await all_inbox(store_of(hub)) == []


async def test_an_unknown_system_is_a_404_that_names_the_configured_ones(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{hub.base_url}/hooks/nosuch", data=b"{}") as answer:
        assert answer.status == 404
        payload = await answer.json()
        assert answer.headers["X-Correlation-Id"]
    assert payload["error"] == "unknown_system"
    assert "nosuch" in payload["detail"]
    assert "shop" in payload["detail"]
    # A system without an inbound side (the ERP) receives nothing either.
    async with client.post(f"{hub.base_url}/hooks/erp", data=b"{}") as answer:
        assert answer.status == 404


async def test_a_full_store_answers_503_without_acknowledging_then_recovers(
    sqlite_hub: Hub, client: aiohttp.ClientSession
) -> None:
    hub = sqlite_hub
    store = store_of(hub)
    assert isinstance(store, SQLiteStore)
    body = json.dumps({"id": 1, "pad": "z" * (MAX_BODY // 2)}).encode()
    headers = shopify_headers(body, event_id="evt-full")
    await store.set_max_size(1)  # the database cannot grow: every new row fails
    try:
        status, payload, answer_headers = await _post(client, hub, body, headers)
    finally:
        await store.set_max_size(None)
    assert status == 503
    assert payload["error"] == "store_unavailable"
    assert answer_headers["Retry-After"] == "2"
    assert await all_inbox(store) == []
    # Space is back: the sender's retry is stored and acknowledged.
    status, payload, _ = await _post(client, hub, body, headers)
    assert status == 200
    assert payload["duplicate"] is False
    assert len(await all_inbox(store)) == 1


async def test_a_closed_store_answers_503(hub: Hub, client: aiohttp.ClientSession) -> None:
    store = store_of(hub)
    assert hub.decoder is not None
    hub.decoder.request_stop()
    await store.close()
    body = ORDER_1043.read_bytes()
    status, _, answer_headers = await _post(
        client, hub, body, shopify_headers(body, event_id="evt-closed")
    )
    assert status == 503
    assert answer_headers["Retry-After"] == "2"
    async with client.get(f"{hub.base_url}/readyz") as answer:
        assert answer.status == 503
        ready = await answer.json()
    assert ready["status"] == "not_ready"
    assert "store unreachable" in ready["reasons"][0]


async def test_malformed_json_is_acknowledged_then_dead_lettered_with_its_reason(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = b'{"id": 5812345, "line_items": [ oops'
    status, payload, _ = await _post(
        client, hub, body, shopify_headers(body, event_id="evt-bad-json")
    )
    assert status == 200
    item = await settled(store_of(hub), int(str(payload["inbox_id"])))
    assert item.status is InboxStatus.DEAD
    assert item.reason is not None
    assert "malformed JSON" in item.reason
    assert item.body == body  # kept as received, replayable


async def test_decoding_appends_canonical_events_under_the_correlation_id(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    order_id = json.loads(body)["id"]
    headers = shopify_headers(body, event_id="evt-decode") | {"X-Correlation-Id": "corr-decode"}
    status, payload, _ = await _post(client, hub, body, headers)
    assert status == 200
    item = await settled(store_of(hub), int(str(payload["inbox_id"])))
    assert item.status is InboxStatus.DECODED, item.reason
    events = await store_of(hub).events_by_correlation("corr-decode")
    assert [e.event.type for e in events] == ["order.placed"]
    assert events[0].event.subject == f"gid://shopify/Order/{order_id}"
    assert events[0].event.source == "shopify:acme-test.myshopify.com"
    async with client.get(f"{hub.base_url}/v1/orders/{order_id}") as answer:
        assert answer.status == 200
        timeline = await answer.json()
    assert [e["type"] for e in timeline["events"]] == ["order.placed"]
    assert timeline["correlation_ids"] == ["corr-decode"]


async def test_a_totals_mismatch_is_quarantined_while_other_deliveries_flow(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    good = ORDER_1043.read_bytes()
    bad = good.replace(b'\n  "total_price": "210.56"', b'\n  "total_price": "210.66"')
    assert bad != good
    bad_answer = await _post(client, hub, bad, shopify_headers(bad, event_id="evt-mismatch"))
    good_answer = await _post(client, hub, good, shopify_headers(good, event_id="evt-fine"))
    quarantined = await settled(store_of(hub), int(str(bad_answer[1]["inbox_id"])))
    decoded = await settled(store_of(hub), int(str(good_answer[1]["inbox_id"])))
    assert quarantined.status is InboxStatus.DEAD
    assert quarantined.reason is not None
    assert quarantined.reason.startswith("quarantined: ")
    assert "difference 0.10 USD" in quarantined.reason
    assert decoded.status is InboxStatus.DECODED


async def test_one_hundred_concurrent_deliveries_are_all_durable_and_acknowledged(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    answers = await asyncio.gather(
        *(_post(client, hub, body, shopify_headers(body, event_id=f"evt-c{i}")) for i in range(100))
    )
    assert [status for status, _, _ in answers] == [200] * 100
    inbox_ids = {payload["inbox_id"] for _, payload, _ in answers}
    assert len(inbox_ids) == 100
    rows = await all_inbox(store_of(hub))
    assert {row.inbox_id for row in rows} == inbox_ids
    assert {row.dedupe_key for row in rows} == {f"event:orders/create:evt-c{i}" for i in range(100)}


async def test_health_readiness_and_metrics(hub: Hub, client: aiohttp.ClientSession) -> None:
    body = ORDER_1043.read_bytes()
    headers = shopify_headers(body, event_id="evt-metrics")
    await _post(client, hub, body, headers)
    await _post(client, hub, body, headers)
    async with client.get(f"{hub.base_url}/healthz") as answer:
        assert answer.status == 200
        assert answer.headers["X-Correlation-Id"]
    async with client.get(f"{hub.base_url}/readyz") as answer:
        assert answer.status == 200
        ready = await answer.json()
    assert ready["status"] == "ready"
    assert ready["schema_version"] == ready["schema_expected"]
    async with client.get(f"{hub.base_url}/metrics") as answer:
        assert answer.status == 200
        text = await answer.text()
    assert 'crossdock_inbox_records_total{outcome="new",source="shop"} 1.0' in text
    assert 'crossdock_inbox_records_total{outcome="duplicate",source="shop"} 1.0' in text
    # One row whatever its state (the decoder may or may not have reached it yet).
    rows = [
        line for line in text.splitlines() if line.startswith('crossdock_inbox_rows{source="shop"')
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in rows) == 1.0


async def test_refusals_are_counted_by_system_and_reason(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    body = ORDER_1043.read_bytes()
    await _post(client, hub, body, shopify_headers(body, event_id="evt-r", secret="wrong"))
    for path in ("/hooks/scanner-1", "/hooks/scanner-2"):
        async with client.post(f"{hub.base_url}{path}", data=b"{}") as answer:
            assert answer.status == 404
    async with client.get(f"{hub.base_url}/metrics") as answer:
        text = await answer.text()
    assert 'crossdock_ingress_refused_total{reason="invalid_signature",system="shop"} 1.0' in text
    # Unknown names share one label value: a scanner cannot grow the number of series.
    assert 'crossdock_ingress_refused_total{reason="unknown_system",system="?"} 2.0' in text
    assert "scanner" not in text
