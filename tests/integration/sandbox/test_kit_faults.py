"""Fault injection on a real loopback server: errors, outages, resets, hangs, throttling."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from crossdock.sandbox.kit import RunningServer, serve

from .conftest import WidgetSimulator


async def _faults(http: aiohttp.ClientSession, server: RunningServer, **spec: Any) -> None:
    async with http.post(f"{server.base_url}/_sandbox/faults", json=spec) as response:
        assert response.status == 200, await response.text()


async def _statuses(http: aiohttp.ClientSession, server: RunningServer, n: int) -> list[int]:
    out = []
    for _ in range(n):
        async with http.get(f"{server.base_url}/_sandbox/health") as _admin:
            pass  # admin calls are never faulted and do not shift the draws
        async with http.get(f"{server.base_url}/widgets") as response:
            out.append(response.status)
    return out


async def test_error_rate_uses_the_system_error_shape_and_is_deterministic(
    http: aiohttp.ClientSession,
) -> None:
    runs = []
    for _ in range(2):
        sim = WidgetSimulator()
        async with serve(sim.app) as server:
            await _faults(http, server, error_rate=0.5, error_status=503, throttle_factor=1.0)
            sim.bucket.capacity = 1000  # keep the rate limit out of this test
            runs.append(await _statuses(http, server, 16))
            async with http.get(f"{server.base_url}/_sandbox/requests") as r:
                faults = [e["fault"] for e in (await r.json())["requests"]]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 503}
    assert faults.count("error") == runs[0].count(503)


async def test_injected_error_body_is_the_system_shape(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, error_rate=1.0, error_status=502)
    async with http.get(f"{widgets_server.base_url}/widgets") as response:
        assert response.status == 502
        assert await response.json() == {"problem": "injected", "status": 502}
    async with http.delete(f"{widgets_server.base_url}/_sandbox/faults") as response:
        assert (await response.json())["faults"]["error_rate"] == 0
    async with http.get(f"{widgets_server.base_url}/widgets") as response:
        assert response.status == 200


async def test_error_after_effect_leaves_an_ambiguous_outcome(
    widgets: WidgetSimulator, widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, error_rate=1.0, fault_phase="after")
    async with http.post(f"{widgets_server.base_url}/widgets", json={"key": "amb"}) as response:
        assert response.status == 500
    assert widgets.effects.report()["widget"]["amb"]["created"] == 1


async def test_outage_answers_503_for_its_window_only(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, outage_s=30)
    assert await _statuses(http, widgets_server, 3) == [503, 503, 503]
    async with http.get(f"{widgets_server.base_url}/_sandbox/faults") as response:
        assert (await response.json())["faults"]["outage_remaining_s"] > 0
    await _faults(http, widgets_server, outage_s=0)
    assert await _statuses(http, widgets_server, 1) == [200]


async def test_outage_in_reset_mode_drops_the_connection(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, outage_s=30, outage_mode="reset")
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        async with http.get(f"{widgets_server.base_url}/widgets"):
            pass
    async with http.get(f"{widgets_server.base_url}/_sandbox/requests") as response:
        log = (await response.json())["requests"]
    assert log[-1]["fault"] == "reset"
    assert log[-1]["status"] is None


async def test_hanging_call_never_answers_before_the_client_deadline(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, hang_rate=1.0)
    with pytest.raises(asyncio.TimeoutError):
        async with http.get(
            f"{widgets_server.base_url}/widgets", timeout=aiohttp.ClientTimeout(total=0.3)
        ):
            pass
    await _faults(http, widgets_server)
    assert await _statuses(http, widgets_server, 1) == [200]


async def test_latency_is_added_before_the_answer(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, latency_ms=80, jitter_ms=20)
    assert await _statuses(http, widgets_server, 2) == [200, 200]
    async with http.get(f"{widgets_server.base_url}/_sandbox/requests") as response:
        durations = [e["duration_ms"] for e in (await response.json())["requests"]]
    # asyncio.sleep never returns early, so each call lasted at least latency - jitter.
    assert all(d >= 60 for d in durations)


async def test_tighter_throttling_shrinks_the_system_limit(
    widgets_server: RunningServer, http: aiohttp.ClientSession
) -> None:
    await _faults(http, widgets_server, throttle_factor=0.4)
    statuses = await _statuses(http, widgets_server, 3)
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


async def test_token_is_still_required_under_faults(widgets_server: RunningServer) -> None:
    async with aiohttp.ClientSession(headers={"X-Token": "wrong"}) as wrong:
        await _faults(wrong, widgets_server, latency_ms=1)
        async with wrong.get(f"{widgets_server.base_url}/widgets") as response:
            assert response.status == 401
