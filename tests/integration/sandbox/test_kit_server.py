"""The simulator base served on a real loopback port: auth, limits, admin, HTTPS, in-process."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import httpx

from crossdock.sandbox.kit import LocalCA, RunningServer, serve

from .conftest import TOKEN, WidgetSimulator


async def test_auth_is_checked_with_the_system_error_shape(widgets_server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{widgets_server.base_url}/widgets") as response,
    ):
        assert response.status == 401
        assert await response.json() == {"problem": "bad token"}


async def test_business_call_carries_rate_limit_header_then_429(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    statuses, buckets, retry_after = [], [], None
    for _ in range(7):
        async with http.get(f"{widgets_server.base_url}/widgets") as response:
            statuses.append(response.status)
            buckets.append(response.headers.get("X-Bucket"))
            if response.status == 429:
                retry_after = response.headers["Retry-After"]
    assert statuses[:5] == [200] * 5
    assert 429 in statuses[5:]
    assert buckets[0] is not None
    assert buckets[0].endswith("/5")
    assert retry_after is not None
    assert float(retry_after) > 0


async def test_unknown_route_answers_in_the_system_shape(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{widgets_server.base_url}/nope") as response:
        assert response.status == 404
        assert await response.json() == {"problem": "injected", "status": 404}


async def test_effects_count_attempts_creations_and_duplicates(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = f"{widgets_server.base_url}/widgets"
    for _ in range(2):
        async with http.post(url, json={"key": "w1"}, headers={"Idempotency-Key": "k1"}) as r:
            assert r.status == 201
    async with http.post(url, json={"key": "w1"}) as r:
        assert r.status == 422
    async with http.get(f"{widgets_server.base_url}/_sandbox/effects?kind=widget&key=w1") as r:
        report = await r.json()
    entry = report["effects"]["widget"]["w1"]
    assert entry["attempts"] == 3
    assert entry["created"] == 1
    assert entry["duplicates_absorbed"] == 1
    assert entry["duplicates_refused"] == 1
    assert entry["last_state"] == "active"


async def test_request_log_and_reset(
    widgets: WidgetSimulator, widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    base = widgets_server.base_url
    async with http.post(f"{base}/widgets", json={"key": "w2"}, headers={"Idempotency-Key": "i"}):
        pass
    async with http.get(f"{base}/_sandbox/requests") as r:
        log = (await r.json())["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("POST", "/widgets", 201)]
    assert log[0]["idempotency_key"] == "i"
    async with http.post(f"{base}/_sandbox/reset") as r:
        assert r.status == 200
    assert set(widgets.widgets) == {"seeded"}
    async with http.get(f"{base}/_sandbox/effects") as r:
        assert (await r.json())["effects"] == {}


async def test_admin_refuses_a_malformed_fault_body(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    url = f"{widgets_server.base_url}/_sandbox/faults"
    async with http.post(url, json={"error_rate": 3}) as r:
        assert r.status == 400
        body = await r.json()
    assert body["details"][0]["loc"] == ["error_rate"]
    async with http.post(url, data=b"{not json") as r:
        assert r.status == 400
    async with http.get(url) as r:
        assert (await r.json())["faults"]["error_rate"] == 0


async def test_https_with_a_local_ca_made_once_and_reused(tmp_path: Path) -> None:
    first = LocalCA.load_or_create(tmp_path)
    second = LocalCA.load_or_create(tmp_path)
    assert first.ca_cert.read_bytes() == second.ca_cert.read_bytes()
    assert (tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o077 == 0
    sim = WidgetSimulator()
    async with serve(sim.app, tls=second) as running:
        assert running.base_url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(first.ca_cert))
        async with (
            aiohttp.ClientSession(headers={"X-Token": TOKEN}) as session,
            session.get(f"{running.base_url}/widgets", ssl=trusted) as response,
        ):
            assert response.status == 200
            assert (await response.json())["widgets"][0]["key"] == "seeded"
        async with aiohttp.ClientSession() as session:
            try:
                async with session.get(f"{running.base_url}/_sandbox/health"):
                    raise AssertionError("an untrusted CA must be refused")
            except aiohttp.ClientConnectorCertificateError:
                pass


async def test_in_process_app_works_with_an_asgi_transport() -> None:
    sim = WidgetSimulator()
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://widgets") as client:
        created = await client.post("/widgets", json={"key": "w3"}, headers={"X-Token": TOKEN})
        health = await client.get("/_sandbox/health")
    assert created.status_code == 201
    assert health.json() == {"system": "widgets", "ok": True, "seed": 7}
    assert sim.effects.report()["widget"]["w3"]["created"] == 1
