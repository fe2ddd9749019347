"""The EasyPost connector against its simulator on loopback: trackers out, signed Events in.

The standard battery is written by hand here (the kit has no conformance factory yet): auth
refusal, the error classes, a refused signature, duplicate deliveries, an idempotent retry.
"""

from __future__ import annotations

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import (
    AuthFailedError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.easypost import TRACK_COMMAND, EasyPostConnector, sign

from .conftest import WEBHOOK_SECRET, Rig


def track(code: str, carrier: str | None = None, key: str = "flow-1:track") -> Command:
    payload = {"tracking_code": code} | ({"carrier": carrier} if carrier else {})
    return Command(idempotency_key=key, destination="easypost", kind=TRACK_COMMAND, payload=payload)


async def test_track_creates_a_tracker_once_however_often_it_is_performed(rig: Rig) -> None:
    first = await rig.connector.perform(track("1Z999AA10123456784", "UPS"))
    again = await rig.connector.perform(track("1Z999AA10123456784", "UPS"), attempt=2)
    assert first == again
    assert first["tracker_id"].startswith("trk_")
    assert (first["carrier"], first["status"]) == ("UPS", "pre_transit")
    entry = rig.sim.effects.get("tracker", "1Z999AA10123456784")
    assert entry is not None
    assert (entry.attempts, entry.created, entry.duplicates_absorbed) == (2, 1, 1)
    fetched = await rig.connector.get_tracker(first["tracker_id"])
    assert fetched["tracking_code"] == "1Z999AA10123456784"


async def test_signed_webhooks_verify_decode_and_follow_the_parcel(rig: Rig) -> None:
    await rig.subscribe()
    code = "1ZFLOW0000000001"
    rig.expect("UPS", code)
    await rig.post_admin(
        "/easypost/outcomes", {"tracking_code": code, "carrier": "UPS", "outcome": "delivered"}
    )
    await rig.connector.perform(track(code, "UPS"))
    await rig.post_admin("/easypost/advance", {"hours": 24 * 7})
    await rig.drain()
    receiver = rig.receiver
    assert receiver.refused == 0
    assert receiver.dead == []
    statuses = [e.data["status"] for e in receiver.events]
    assert statuses[0] == "pre_transit"
    assert statuses[-1] == "delivered"
    assert "out_for_delivery" in statuses
    assert {e.type for e in receiver.events} == {"shipment.updated"}
    assert {e.subject for e in receiver.events} == {f"shp-{code}"}
    assert len(receiver.events) == len(set(receiver.event_ids)) == 7  # created + 6 updates
    last = receiver.events[-1].data
    assert last["tracking_number"] == code
    assert last["delivered_at"] is not None
    assert last["status_detail"] == "arrived_at_destination"


async def test_duplicate_deliveries_are_deduplicated_by_event_id(rig: Rig) -> None:
    await rig.subscribe()
    await rig.post_admin("/faults", {"webhooks": {"duplicate_rate": 1.0}})
    code = "794644790138"
    rig.expect("FedEx", code)
    await rig.connector.perform(track(code, "FedEx"))
    await rig.post_admin("/easypost/advance", {"tracking_code": code, "steps": 3})
    await rig.drain()
    receiver = rig.receiver
    sent = rig.sim.webhooks.deliveries if rig.sim.webhooks else []
    assert len(sent) == 4
    assert all("duplicated" in d.chaos for d in sent)
    assert receiver.duplicates == 4
    assert sorted(receiver.event_ids) == sorted(d.event_id for d in sent)
    assert len(receiver.events) == 4


async def test_a_wrong_secret_is_refused_and_easypost_retries(rig: Rig) -> None:
    await rig.subscribe()
    rig.connector.webhook_secrets = ()  # the receiver no longer knows the secret
    rig.expect("UPS", "1ZREFUSED0000001")
    await rig.connector.perform(track("1ZREFUSED0000001", "UPS"))
    await rig.drain()
    receiver = rig.receiver
    assert receiver.events == []
    attempts = rig.sim.webhooks.attempts if rig.sim.webhooks else []
    assert [a.status for a in attempts] == [401] * 7  # the first attempt and 6 retries
    assert receiver.refused == 7


async def test_a_forged_or_tampered_delivery_is_refused(rig: Rig) -> None:
    body = b'{"object":"Event","id":"evt_forged","description":"tracker.updated"}'
    async with aiohttp.ClientSession() as session:
        for headers, payload in [
            ({}, body),
            ({"X-Hmac-Signature": sign(body, "guessed")}, body),
            ({"X-Hmac-Signature": sign(body, WEBHOOK_SECRET)}, body + b" "),
        ]:
            async with session.post(rig.receiver.url, data=payload, headers=headers) as response:
                assert response.status == 401
    assert rig.receiver.refused == 3
    assert rig.receiver.event_ids == []


async def test_a_receiver_error_is_retried_until_delivered(rig: Rig) -> None:
    await rig.subscribe()
    rig.receiver.fail_first = 2
    rig.expect("UPS", "1ZRETRY000000001")
    await rig.connector.perform(track("1ZRETRY000000001", "UPS"))
    await rig.drain()
    attempts = rig.sim.webhooks.attempts if rig.sim.webhooks else []
    assert [a.status for a in attempts] == [500, 500, 200]
    assert len(rig.receiver.events) == 1


async def test_an_unlinked_tracker_is_kept_with_its_reason(rig: Rig) -> None:
    await rig.subscribe()
    await rig.connector.perform(track("1ZNOBODYKNOWS001", "UPS"))
    await rig.drain()
    assert len(rig.receiver.event_ids) == 1  # stored in the inbox
    assert rig.receiver.events == []
    assert rig.receiver.dead == [
        "no hub shipment is linked to UPS tracking code '1ZNOBODYKNOWS001'"
    ]


async def test_a_refused_api_key_is_an_auth_failure(rig: Rig, http: HttpClient) -> None:
    wrong = EasyPostConnector(http=http, api_key="EZTKwrong", base_url=rig.base_url)
    with pytest.raises(AuthFailedError) as caught:
        await wrong.perform(track("1ZAUTH0000000001"))
    assert caught.value.classification is not None
    assert caught.value.classification.codes == ("APIKEY.INACTIVE",)


async def test_error_classes_follow_the_table(rig: Rig) -> None:
    with pytest.raises(PermanentFailureError, match="tracking_code"):
        await rig.connector.perform(track("  "))
    with pytest.raises(PermanentFailureError) as refused:
        await rig.connector.call("POST", "/v2/trackers", json={"tracker": {}}, idempotent=True)
    assert refused.value.classification is not None
    assert refused.value.classification.codes == ("PARAMETER.REQUIRED",)
    with pytest.raises(PermanentFailureError, match="not found"):
        await rig.connector.get_tracker("trk_missing")
    await rig.post_admin("/faults", {"error_rate": 1.0, "error_status": 503})
    with pytest.raises(RetryLaterError):
        await rig.connector.perform(track("1ZDOWN0000000001"))
    await rig.post_admin("/faults", {"error_rate": 1.0, "error_status": 429})
    with pytest.raises(RateLimitedError):
        await rig.connector.perform(track("1ZDOWN0000000001"))


async def test_a_lost_answer_is_retried_safely_because_easypost_dedupes(rig: Rig) -> None:
    code = "1ZLOSTANSWER0001"
    await rig.post_admin(
        "/faults", {"error_rate": 1.0, "error_status": 504, "fault_phase": "after"}
    )
    with pytest.raises(RetryLaterError, match="idempotent"):
        await rig.connector.perform(track(code, "UPS"))
    async with rig.admin.delete(f"{rig.base_url}/_sandbox/faults") as response:
        assert response.status == 200
    result = await rig.connector.perform(track(code, "UPS"), attempt=2)
    assert result["tracking_code"] == code
    entry = rig.sim.effects.get("tracker", code)
    assert entry is not None
    assert (entry.attempts, entry.created, entry.duplicates_absorbed) == (2, 1, 1)


async def test_reordered_deliveries_all_arrive_and_carry_their_own_snapshot(rig: Rig) -> None:
    await rig.subscribe()
    await rig.post_admin("/faults", {"webhooks": {"reorder_rate": 1.0}})
    code = "1ZREORDER0000001"
    rig.expect("UPS", code)
    await rig.post_admin(
        "/easypost/outcomes", {"tracking_code": code, "carrier": "UPS", "outcome": "delivered"}
    )
    await rig.connector.perform(track(code, "UPS"))
    await rig.post_admin("/easypost/advance", {"tracking_code": code, "steps": 3})
    await rig.drain()
    sent = [d.event_id for d in rig.sim.webhooks.deliveries] if rig.sim.webhooks else []
    assert sorted(rig.receiver.event_ids) == sorted(sent)
    assert rig.receiver.event_ids != sent  # the kit's sender swapped neighbours
    by_id = dict(zip(rig.receiver.event_ids, rig.receiver.events, strict=True))
    in_emission_order = [by_id[event_id].data["status"] for event_id in sent]
    assert in_emission_order == ["pre_transit", "in_transit", "in_transit", "in_transit"]
