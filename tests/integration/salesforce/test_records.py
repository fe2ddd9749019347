"""Upserts, collections, validation and queries: the connector against the simulator."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.canonical.customer import Account, Contact, Customer
from crossdock.connectorkit import ConflictError, PermanentFailureError
from crossdock.connectors.salesforce import (
    CUSTOMER_UPSERT,
    CUSTOMER_UPSERT_BATCH,
    SalesforceConnector,
)
from crossdock.sandbox.kit import RunningServer
from crossdock.sandbox.salesforce import SalesforceSimulator

from .conftest import admin, effects

KEY = "Shopify_Customer_Id__c"


def _customer(name: str, *contacts: tuple[str, str]) -> dict[str, Any]:
    customer = Customer(
        kind="business",
        account=Account(name=name, number="B2B-17", website="https://acme.example"),
        contacts=[Contact(last_name=last, email=email) for last, email in contacts],
    )
    return customer.model_dump(mode="json")


@pytest.mark.parametrize("update_status", [200, 204])
async def test_upsert_creates_then_updates_with_either_update_answer(
    connector: SalesforceConnector,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    sim: SalesforceSimulator,
    update_status: int,
) -> None:
    await admin(raw, server, "salesforce/settings", {"upsert_update_status": update_status})

    first = await connector.upsert("Account", KEY, "7001", {"Name": "Acme"})
    second = await connector.upsert("Account", KEY, "7001", {"Name": "Acme GmbH"})

    assert first.created
    assert not second.created
    assert first.id == second.id
    assert [r["Name"] for r in sim.org.records["Account"].values()] == ["Acme GmbH"]
    ledger = (await effects(raw, server))["Account.Shopify_Customer_Id__c"]["7001"]
    assert (ledger["attempts"], ledger["created"], ledger["duplicates_absorbed"]) == (2, 1, 1)


async def test_several_matches_answer_300_and_write_nothing(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    for name in ("Acme North", "Acme South"):
        await connector.upsert(
            "Account", KEY, name.replace(" ", "-"), {"Name": name, "Legacy_Id__c": "L-9"}
        )

    with pytest.raises(ConflictError) as conflict:
        await connector.upsert("Account", "Legacy_Id__c", "L-9", {"Name": "Overwritten"})

    assert conflict.value.classification is not None
    assert conflict.value.classification.status == 300
    names = sorted(r["Name"] for r in sim.org.records["Account"].values())
    assert names == ["Acme North", "Acme South"]


async def test_update_only_does_not_insert(connector: SalesforceConnector) -> None:
    with pytest.raises(PermanentFailureError, match="not found in Salesforce"):
        await connector.upsert("Account", KEY, "missing", {"Name": "X"}, update_only=True)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"Website": "x"}, "REQUIRED_FIELD_MISSING"),
        ({"Name": "A", "Colour__c": "red"}, "INVALID_FIELD"),
        (
            {"Name": "A", "CreatedDate": "2026-01-01T00:00:00.000+0000"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
    ],
)
async def test_validation_errors_are_permanent(
    connector: SalesforceConnector, fields: dict[str, Any], code: str
) -> None:
    with pytest.raises(PermanentFailureError) as refused:
        await connector.upsert("Account", KEY, "v-1", fields)

    assert refused.value.classification is not None
    assert refused.value.classification.codes == (code,)


async def test_a_duplicate_unique_external_id_is_duplicate_value(
    connector: SalesforceConnector,
) -> None:
    await connector.upsert("Account", KEY, "d-1", {"Name": "One", "ERP_Id__c": "C1"})

    with pytest.raises(PermanentFailureError) as refused:
        await connector.upsert("Account", KEY, "d-2", {"Name": "Two", "ERP_Id__c": "c1"})
    assert refused.value.classification is not None
    assert refused.value.classification.codes == ("DUPLICATE_VALUE",)


async def test_customer_upsert_writes_account_and_contacts_once(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    payload = {
        "customer": _customer(
            "Café Größenwahn GmbH", ("Größ", "jg@cafe.example"), ("Ng", "ng@cafe.example")
        ),
        "key": {"field": KEY, "value": "6120"},
    }
    command = Command(
        idempotency_key="c-1", destination="salesforce", kind=CUSTOMER_UPSERT, payload=payload
    )

    first = await connector.perform(command)
    again = await connector.perform(command, attempt=2)

    assert first["created"] is True
    assert again["created"] is False
    assert first["contact_ids"] == again["contact_ids"]
    contacts = list(sim.org.records["Contact"].values())
    assert sorted(c["LastName"] for c in contacts) == ["Größ", "Ng"]
    assert {c["AccountId"] for c in contacts} == {first["account_id"]}


async def test_batch_upsert_goes_in_collections_and_reports_the_refused_record(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    customers = [{"key": f"b-{n}", "customer": _customer(f"Buyer {n}")} for n in range(250)]
    customers[150]["key"] = "b-10"  # the same key twice in one batch of 200: refused alone
    command = Command(
        idempotency_key="batch-1",
        destination="salesforce",
        kind=CUSTOMER_UPSERT_BATCH,
        payload={"field": KEY, "customers": customers},
    )

    result = await connector.perform(command)

    assert result["failed"] == ["b-10"]
    refused = result["results"][150]
    assert refused["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert len(sim.org.records["Account"]) == 249
    calls = [r for r in sim.requests.as_json(None, "/services/data") if "composite" in r["path"]]
    assert len(calls) == 2


async def test_a_collection_reports_per_record_failures_with_status_code(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    records = [{KEY: f"r-{n}", "Name": f"Row {n}"} for n in range(205)]
    records[150] = {KEY: "r-150", "Website": "no name"}

    results = await connector.upsert_collection("Account", KEY, records)

    assert len(results) == 205
    failed = [r for r in results if not r.success]
    assert [r.key for r in failed] == ["r-150"]
    assert failed[0].errors[0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert len(sim.org.records["Account"]) == 204


async def test_all_or_none_rolls_the_whole_batch_back(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    records = [{KEY: "a-1", "Name": "Fine"}, {KEY: "a-2", "Bogus__c": "x", "Name": "Bad"}]

    results = await connector.upsert_collection("Account", KEY, records, all_or_none=True)

    assert [r.success for r in results] == [False, False]
    assert results[0].errors[0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1].errors[0]["statusCode"] == "INVALID_FIELD"
    assert sim.org.records["Account"] == {}


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account WHERE Name LIKE 'A%'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b'", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
    ],
)
async def test_queries_outside_the_subset_are_refused(
    connector: SalesforceConnector, soql: str, code: str
) -> None:
    with pytest.raises(PermanentFailureError) as refused:
        await connector.query(soql)

    assert refused.value.classification is not None
    assert refused.value.classification.codes == (code,)


async def test_a_query_follows_relationships_and_limits(connector: SalesforceConnector) -> None:
    rows = await connector.query(
        "SELECT Id, UnitPrice, Product2.SKU__c FROM PricebookEntry "
        "WHERE IsActive = true ORDER BY UnitPrice DESC LIMIT 2"
    )

    assert [r["Product2"]["SKU__c"] for r in rows] == ["CD-TEE-M", "CD-CAP-01"]
    assert str(rows[0]["UnitPrice"]) == "24.00"


async def test_a_long_query_result_is_paged_and_followed(
    connector: SalesforceConnector, sim: SalesforceSimulator
) -> None:
    sim.query_batch_size = 4
    await connector.upsert_collection(
        "Account", KEY, [{KEY: f"p-{n}", "Name": f"Paged {n}"} for n in range(10)]
    )

    rows = await connector.query("SELECT Id, Name FROM Account ORDER BY Name")

    assert [r["Name"] for r in rows] == sorted(f"Paged {n}" for n in range(10))
    pages = [r for r in sim.requests.as_json(None, "/services/data") if "/query/" in r["path"]]
    assert len(pages) == 2
