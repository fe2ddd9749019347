"""Asynchronous requests: Prefer: respond-async, job polling and the idempotency key."""

from __future__ import annotations

from crossdock.canonical.ids import new_id

from .conftest import Rig


async def test_an_async_upsert_runs_as_a_job_and_a_repeated_key_is_refused(rig: Rig) -> None:
    external_id = new_id()
    url = f"{rig.rest}/record/v1/customer/eid:{external_id}"
    key = new_id()
    headers = {"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": key}
    body = {"companyName": "Async Co"}
    status, _, answer = await rig.signed("PUT", url, body, headers=headers)
    assert status == 202
    assert answer["Preference-Applied"] == "respond-async"
    job_path = answer["Location"]
    assert job_path.startswith("/services/rest/async/v1/job/")
    base = rig.server.base_url
    status, job, _ = await rig.signed("GET", f"{base}{job_path}")
    assert status == 200
    assert (job["completed"], job["progress"]) == (True, "succeeded")
    result_url = job["task"]["links"][0]["href"]
    status, _, result = await rig.signed("GET", f"{base}{result_url}")
    assert status == 204
    assert result["Location"].endswith(f"/customer/{rig.sim.erp.eids['customer'][external_id]}")
    status, refused, answer = await rig.signed("PUT", url, body, headers=headers)
    assert status == 400
    detail = refused["o:errorDetails"][0]
    assert detail["o:errorCode"] == "IDEMPOTENCY_ERROR"
    assert answer["Location"] == job_path
    assert refused["title"] == "Conflict"
    entry = rig.sim.effects.get("customer", external_id)
    assert entry is not None
    assert (entry.attempts, entry.created) == (1, 1)


async def test_record_api_shapes(rig: Rig) -> None:
    url = f"{rig.rest}/record/v1/customer"
    status, _, answer = await rig.signed(
        "POST", url, {"companyName": "Plain Co", "externalId": "C-1"}
    )
    assert status == 204
    location = answer["Location"]
    assert location.startswith(f"{url}/")  # absolute, on the host that was called
    record_id = location.rsplit("/", 1)[-1]
    status, _, _ = await rig.signed("POST", url, {"companyName": "Again", "externalId": "C-1"})
    assert status == 400
    status, body, _ = await rig.signed("PATCH", f"{url}/{record_id}", {"email": "a@b.example"})
    assert status == 204
    status, body, _ = await rig.signed("GET", f"{url}/eid:C-1")
    assert (status, body["email"], body["id"]) == (200, "a@b.example", record_id)
    status, body, _ = await rig.signed("POST", url, {"email": "no-name@example.com"})
    assert status == 400
    assert body["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"
    status, _, _ = await rig.signed("DELETE", f"{url}/{record_id}")
    assert status == 204
    status, body, _ = await rig.signed("GET", f"{url}/{record_id}")
    assert status == 404
    assert body["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
    async with rig.session.request(
        "POST", url, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 401  # auth comes first


async def test_the_connector_submits_async_and_a_resend_lands_on_the_same_job(rig: Rig) -> None:
    connector = rig.connector()
    external_id = new_id()
    key = new_id()
    path = f"record/v1/customer/eid:{external_id}"
    body = {"companyName": "Async Co"}
    job = await connector.submit_async("PUT", path, idempotency_key=key, json=body)
    again = await connector.submit_async("PUT", path, idempotency_key=key, json=body)
    assert job == again
    result = await connector.job_result(job)
    assert result is not None
    assert result.status == 204
    assert result.headers["Location"].endswith(
        f"/customer/{rig.sim.erp.eids['customer'][external_id]}"
    )
    entry = rig.sim.effects.get("customer", external_id)
    assert entry is not None
    assert (entry.attempts, entry.created) == (1, 1)
    refused = await connector.submit_async(
        "POST", "record/v1/customer", idempotency_key=new_id(), json={"email": "x@y.example"}
    )
    failed = await connector.job_result(refused)
    assert failed is not None
    assert failed.status == 400
    assert failed.json()["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"


async def test_governance_limits_resize_the_slots(rig: Rig) -> None:
    rig.sim.concurrency_limit = 25  # one SuiteCloud Plus licence
    connector = rig.connector()
    assert getattr(connector.rate_budget, "limit", None) == 15
    assert await connector.refresh_concurrency() == 25
    assert getattr(connector.rate_budget, "limit", None) == 25
