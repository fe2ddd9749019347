"""An independent client, simple-salesforce (sync, requests, HTTPS only), against the simulator.

The simulator is served over HTTPS with the kit's local CA; simple-salesforce gets a session id
from the token endpoint and the instance URL, exactly as with a real org, and runs in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from crossdock.sandbox.kit import LocalCA, RunningServer, serve
from crossdock.sandbox.salesforce import SalesforceSimulator


@pytest.fixture
async def tls_server(sim: SalesforceSimulator, tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serve(sim.app, tls=LocalCA.load_or_create(tmp_path / "ca")) as running:
        yield running


def _client(server: RunningServer, creds: dict[str, Any]) -> Salesforce:
    assert server.ca is not None
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override the session's CA
    session.verify = str(server.ca.ca_cert)
    session.headers["Sforce-Call-Options"] = "client=simple-salesforce-test"
    token = session.post(
        creds["token_url"],
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        timeout=10,
    ).json()
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=session,
        version="62.0",
    )


def _exercise(server: RunningServer, creds: dict[str, Any]) -> dict[str, Any]:
    sf = _client(server, creds)
    described = sf.Account.describe()
    created = sf.Account.create({"Name": "Reference Client Ltd", "ERP_Id__c": "C-77"})
    fetched = sf.Account.get(created["id"])
    by_ext = sf.Account.get_by_custom_id("ERP_Id__c", "C-77")
    upsert_new = sf.Contact.upsert(
        "Shopify_Customer_Id__c/88", {"LastName": "Okafor", "AccountId": created["id"]}
    )
    upsert_again = sf.Contact.upsert("Shopify_Customer_Id__c/88", {"FirstName": "Ada"})
    sf.Account.update(created["id"], {"Website": "https://ref.example"})
    rows = sf.query("SELECT Id, Name, Website FROM Account WHERE ERP_Id__c = 'C-77'")
    all_entries = sf.query_all("SELECT Id, UnitPrice FROM PricebookEntry")
    try:
        sf.Account.create({"Website": "nameless"})
        refused: Any = None
    except SalesforceMalformedRequest as exc:
        refused = exc.content
    return {
        "created": created,
        "described": described,
        "fetched": fetched,
        "by_ext": by_ext,
        "upsert_new": upsert_new,
        "upsert_again": upsert_again,
        "rows": rows,
        "all_entries": all_entries,
        "refused": refused,
        "usage": sf.api_usage,
        "deleted": sf.Account.delete(created["id"]),
    }


async def test_simple_salesforce_works_unchanged(
    tls_server: RunningServer, sim: SalesforceSimulator
) -> None:
    creds = sim.credentials_for(tls_server.base_url)
    sim.query_batch_size = 2  # five price book entries (three products, two catch-alls)
    entries = len(sim.org.records["PricebookEntry"])
    assert entries > sim.query_batch_size * 2  # query_all follows three pages

    seen = await asyncio.to_thread(_exercise, tls_server, creds)

    assert seen["created"]["success"] is True
    fields = {f["name"]: f for f in seen["described"]["fields"]}
    assert fields["ERP_Id__c"]["externalId"] is True
    assert fields["Name"]["nillable"] is False
    assert seen["fetched"]["Name"] == "Reference Client Ltd"
    assert seen["by_ext"]["Id"] == seen["created"]["id"]
    assert (seen["upsert_new"], seen["upsert_again"]) == (201, 200)
    assert seen["rows"]["totalSize"] == 1
    assert seen["rows"]["records"][0]["Website"] == "https://ref.example"
    assert seen["all_entries"]["totalSize"] == entries
    assert len(seen["all_entries"]["records"]) == entries
    assert seen["refused"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert seen["usage"]["api-usage"].used >= 7
    assert seen["deleted"] == 204
    origins = {
        e.message["payload"]["ChangeEventHeader"]["changeOrigin"] for e in sim.changes.events
    }
    assert "com/salesforce/api/rest/62.0;client=simple-salesforce-test" in origins
