"""The EasyPost simulator's tracker API on a real loopback port, seen by a plain HTTP client."""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from crossdock.backbone.store import Command
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.easypost import TRACK_COMMAND, EasyPostConnector
from crossdock.sandbox.easypost import EasyPostSimulator, TrackerBook
from crossdock.sandbox.kit import run_sandbox, serve

from .conftest import Rig, scenario

TRACKER_FIELDS = {
    "id", "object", "mode", "tracking_code", "carrier", "status", "status_detail", "signed_by",
    "weight", "est_delivery_date", "shipment_id", "public_url", "fees", "carrier_detail",
    "tracking_details", "created_at", "updated_at",
}  # fmt: skip
CARRIER_DETAIL_FIELDS = {
    "service", "container_type", "est_delivery_date_local", "est_delivery_time_local",
    "origin_location", "destination_location",
}  # fmt: skip
DETAIL_FIELDS = {
    "message", "description", "status", "status_detail", "datetime", "source", "carrier_code",
    "tracking_location",
}  # fmt: skip


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def call(
    rig: Rig, method: str, path: str, *, key: str | None = None, json: Any = None
) -> tuple[int, Any]:
    headers = basic(key if key is not None else rig.sim.api_keys["test"])
    url = f"{rig.base_url}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, json=json) as response,
    ):
        return response.status, await response.json()


async def test_missing_and_inactive_keys_get_easypost_401s(rig: Rig) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{rig.base_url}/v2/trackers") as response,
    ):
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "APIKEY.REQUIRED"
    status, body = await call(rig, "GET", "/v2/trackers", key="EZTKnot-a-key")
    assert status == 401
    assert set(body["error"]) == {"code", "message", "errors"}
    assert body["error"]["code"] == "APIKEY.INACTIVE"
    assert body["error"]["errors"] == []


async def test_a_tracker_has_the_real_shape(rig: Rig) -> None:
    status, tracker = await call(
        rig, "POST", "/v2/trackers", json={"tracker": {"tracking_code": "1Z999AA10123456784"}}
    )
    assert status == 201
    assert tracker_fields_ok(tracker)
    assert re.fullmatch(r"trk_[0-9a-f]{32}", tracker["id"])
    assert tracker["object"] == "Tracker"
    assert tracker["mode"] == "test"
    assert tracker["carrier"] == "UPS"  # detected from the 1Z code
    assert tracker["status"] == "pre_transit"
    first = tracker["tracking_details"][0]
    assert (first["carrier_code"], first["status_detail"]) == ("M", "label_created")
    assert tracker["public_url"].startswith("https://track.easypost.com/")
    assert tracker["fees"][0]["object"] == "Fee"


def tracker_fields_ok(tracker: dict[str, Any]) -> bool:
    assert set(tracker) >= TRACKER_FIELDS
    assert set(tracker["carrier_detail"]) >= CARRIER_DETAIL_FIELDS
    for detail in tracker["tracking_details"]:
        assert set(detail) >= DETAIL_FIELDS
        assert set(detail["tracking_location"]) >= {"city", "state", "country", "zip"}
    return True


async def test_creating_twice_returns_the_same_tracker_per_code_and_carrier(rig: Rig) -> None:
    spec = {"tracker": {"tracking_code": "794644790138", "carrier": "FedEx"}}
    first_status, first = await call(rig, "POST", "/v2/trackers", json=spec)
    again_status, again = await call(rig, "POST", "/v2/trackers", json=spec)
    other_status, other = await call(
        rig,
        "POST",
        "/v2/trackers",
        json={"tracker": {"tracking_code": "794644790138", "carrier": "UPS"}},
    )
    assert (first_status, again_status, other_status) == (201, 200, 201)
    assert again["id"] == first["id"]
    assert other["id"] != first["id"]  # carriers recycle codes: code + carrier is the key
    effects = (await rig.get_admin("/effects?kind=tracker&key=794644790138"))["effects"]
    entry = effects["tracker"]["794644790138"]
    assert (entry["attempts"], entry["created"], entry["duplicates_absorbed"]) == (3, 2, 1)
    inspected = await rig.get_admin("/easypost/trackers/794644790138")
    assert {t["tracker"]["carrier"] for t in inspected["trackers"]} == {"FedEx", "UPS"}


async def test_get_one_and_list_with_paging(rig: Rig) -> None:
    ids = []
    for n in range(5):
        _, tracker = await call(
            rig, "POST", "/v2/trackers", json={"tracker": {"tracking_code": f"1ZPAGE{n:04d}"}}
        )
        ids.append(tracker["id"])
    status, one = await call(rig, "GET", f"/v2/trackers/{ids[2]}")
    assert status == 200
    assert one["id"] == ids[2]
    status, page = await call(rig, "GET", "/v2/trackers?page_size=2")
    assert [t["id"] for t in page["trackers"]] == [ids[4], ids[3]]
    assert page["has_more"] is True
    status, rest = await call(rig, "GET", f"/v2/trackers?page_size=10&before_id={ids[3]}")
    assert [t["id"] for t in rest["trackers"]] == [ids[2], ids[1], ids[0]]
    assert rest["has_more"] is False


async def test_errors_have_easypost_shape(rig: Rig) -> None:
    status, body = await call(rig, "GET", "/v2/trackers/trk_nope")
    assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
    status, body = await call(rig, "POST", "/v2/trackers", json={"tracker": {}})
    assert status == 422
    assert body["error"]["code"] == "PARAMETER.REQUIRED"
    assert body["error"]["errors"][0]["field"] == "tracker.tracking_code"


async def test_status_progresses_on_the_virtual_clock_to_each_outcome(rig: Rig) -> None:
    outcomes = {
        ("UPS", "1ZOUTCOME0001"): ("delivered", "D"),
        ("UPS", "1ZOUTCOME0002"): ("failure", "X"),
        ("UPS", "1ZOUTCOME0003"): ("return_to_sender", "RS"),
        ("UPS", "1ZOUTCOME0004"): ("delivered", "D"),
        ("FedEx", "794600000005"): ("available_for_pickup", "HL"),
        ("FedEx", "794600000006"): ("return_to_sender", "RS"),
    }
    forced = ["delivered", "failure", "return_to_sender", "delivery_exception"]
    forced += ["available_for_pickup", "return_to_sender"]
    for (carrier, code), outcome in zip(outcomes, forced, strict=True):
        await rig.post_admin(
            "/easypost/outcomes", {"tracking_code": code, "carrier": carrier, "outcome": outcome}
        )
        await call(
            rig,
            "POST",
            "/v2/trackers",
            json={"tracker": {"tracking_code": code, "carrier": carrier}},
        )
    # The FedEx hold stops at the pickup point: advance just far enough to reach it.
    await rig.post_admin("/easypost/advance", {"hours": 60})
    for (_, code), (status, code_seen) in outcomes.items():
        tracker = (await rig.get_admin(f"/easypost/trackers/{code}"))["trackers"][0]["tracker"]
        if status != "available_for_pickup":
            continue
        assert tracker["status"] == status
        assert tracker["tracking_details"][-1]["carrier_code"] == code_seen
    await rig.post_admin("/easypost/advance", {"hours": 24 * 10})
    for (_, code), (status, code_seen) in outcomes.items():
        inspected = (await rig.get_admin(f"/easypost/trackers/{code}"))["trackers"][0]
        tracker = inspected["tracker"]
        final = "delivered" if status == "available_for_pickup" else status
        assert tracker["status"] == final, code
        assert inspected["remaining"] == 0
        assert code_seen in [d["carrier_code"] for d in tracker["tracking_details"]]
        stamps = [d["datetime"] for d in tracker["tracking_details"]]
        assert stamps == sorted(stamps)
    exception = (await rig.get_admin("/easypost/trackers/1ZOUTCOME0004"))["trackers"][0]
    details = [d["status_detail"] for d in exception["tracker"]["tracking_details"]]
    assert "delivery_exception" in details


async def test_easypost_test_codes_stop_where_easypost_documents(rig: Rig) -> None:
    for code, final in [("EZ1000000001", "pre_transit"), ("EZ4000000004", "delivered")]:
        await call(rig, "POST", "/v2/trackers", json={"tracker": {"tracking_code": code}})
        await rig.post_admin("/easypost/advance", {"tracking_code": code, "steps": 50})
        status, page = await call(rig, "GET", f"/v2/trackers?tracking_code={code}")
        assert status == 200
        assert page["trackers"][0]["status"] == final


def test_the_same_seed_gives_the_same_trackers() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        book = TrackerBook(scenario(seed).data, seed)
        for n in range(12):
            book.create(f"1ZSEED{n:06d}", None, mode="test")
            book.create(f"7946{n:08d}", None, mode="test")
        book.advance_clock(3 * 24 * 3600)
        return [r.data for r in book.trackers.values()]

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_the_simulator_is_registered_for_sandbox_up() -> None:
    from crossdock.sandbox.kit import create, system_names

    assert "easypost" in system_names()
    assert isinstance(create("easypost"), EasyPostSimulator)


async def test_a_production_key_makes_production_trackers(rig: Rig) -> None:
    status, tracker = await call(
        rig,
        "POST",
        "/v2/trackers",
        key=rig.sim.api_keys["production"],
        json={"tracker": {"tracking_code": "1ZPROD0000000001"}},
    )
    assert status == 201
    assert tracker["mode"] == "production"


async def test_sandbox_up_serves_easypost_over_https_to_the_connector(
    tmp_path: Path, http: HttpClient
) -> None:
    async with run_sandbox(["easypost"], https=True, data_dir=tmp_path, seed=3) as sandbox:
        entry = sandbox.manifest["systems"]["easypost"]
        assert entry["base_url"].startswith("https://127.0.0.1:")
        creds = entry["credentials"]
        assert creds["api_url"] == f"{entry['base_url']}/v2"
        trust = ssl.create_default_context(cafile=sandbox.manifest["ca_cert"])
        tls_http = HttpClient(AiohttpTransport(ssl_context=trust), default_timeout=5)
        try:
            connector = EasyPostConnector(
                http=tls_http, api_key=creds["api_key"], base_url=entry["base_url"]
            )
            result = await connector.perform(
                Command("k", "easypost", TRACK_COMMAND, {"tracking_code": "EZ4000000004"})
            )
        finally:
            await tls_http.aclose()
        assert result["tracker_id"].startswith("trk_")
        assert result["carrier"] == "USPS"


async def test_a_running_clock_moves_parcels_without_an_advance_call() -> None:
    sim = EasyPostSimulator(scenario(), clock_scale=10_000_000.0)  # a real second ~ 116 days
    async with serve(sim.app) as server, aiohttp.ClientSession() as session:
        headers = basic(sim.api_keys["test"])
        body = {"tracker": {"tracking_code": "1ZRUNNINGCLOCK01"}}
        async with session.post(f"{server.base_url}/v2/trackers", json=body, headers=headers) as r:
            tracker_id = (await r.json())["id"]
        await asyncio.sleep(0.1)
        async with session.get(f"{server.base_url}/v2/trackers/{tracker_id}", headers=headers) as r:
            tracker = await r.json()
    assert tracker["status"] in {"delivered", "failure", "return_to_sender"}
    assert len(tracker["tracking_details"]) > 1
