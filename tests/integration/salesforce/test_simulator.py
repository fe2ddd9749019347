"""The simulator's own rules, seen on the wire: order lifecycle, SOQL subset, Bayeux, ids."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from crossdock.sandbox.kit import RunningServer, create, system_names
from crossdock.sandbox.salesforce import SalesforceError, SalesforceSimulator, normalise, parse_soql

API = "/services/data/v62.0"


@pytest.fixture
async def session(
    raw: aiohttp.ClientSession, creds: dict[str, Any], server: RunningServer
) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["client_secret"],
    }
    async with raw.post(creds["token_url"], data=form) as response:
        token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _call(
    raw: aiohttp.ClientSession,
    server: RunningServer,
    headers: dict[str, str],
    method: str,
    path: str,
    body: Any = None,
) -> tuple[int, Any]:
    async with raw.request(
        method, f"{server.base_url}{path}", json=body, headers=headers
    ) as response:
        text = await response.text()
        return response.status, (await response.json() if text else None)


async def test_the_order_lifecycle_is_enforced(
    raw: aiohttp.ClientSession,
    server: RunningServer,
    session: dict[str, str],
    sim: SalesforceSimulator,
) -> None:
    status, account = await _call(
        raw, server, session, "POST", f"{API}/sobjects/Account", {"Name": "Acme"}
    )
    assert status == 201
    order = {"AccountId": account["id"], "EffectiveDate": "2026-11-20", "Status": "Activated"}
    status, body = await _call(raw, server, session, "POST", f"{API}/sobjects/Order", order)
    assert (status, body[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")

    status, created = await _call(
        raw, server, session, "POST", f"{API}/sobjects/Order", {**order, "Status": "Draft"}
    )
    assert status == 201
    entry = next(iter(sim.org.records["PricebookEntry"]))
    item = {"OrderId": created["id"], "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 12.5}
    status, body = await _call(raw, server, session, "POST", f"{API}/sobjects/OrderItem", item)
    assert (status, body[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")  # no price book

    status, body = await _call(
        raw,
        server,
        session,
        "PATCH",
        f"{API}/sobjects/Order/{created['id']}",
        {"Status": "Activated"},
    )
    assert (status, body[0]["errorCode"]) == (400, "FIELD_INTEGRITY_EXCEPTION")  # no items

    book = next(iter(sim.org.records["Pricebook2"]))
    await _call(
        raw,
        server,
        session,
        "PATCH",
        f"{API}/sobjects/Order/{created['id']}",
        {"Pricebook2Id": book},
    )
    status, _ = await _call(raw, server, session, "POST", f"{API}/sobjects/OrderItem", item)
    assert status == 201
    status, _ = await _call(
        raw,
        server,
        session,
        "PATCH",
        f"{API}/sobjects/Order/{created['id']}",
        {"Status": "Activated"},
    )
    assert status == 204
    status, got = await _call(raw, server, session, "GET", f"{API}/sobjects/Order/{created['id']}")
    assert (got["StatusCode"], got["TotalAmount"]) == ("Activated", 25.0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"Name": "A", "AccountNumber": "x", "Phone": ["no"]}, "JSON_PARSER_ERROR"),
        ({"Name": "A", "CurrencyIsoCode": "EUR", "Type": {"nested": 1}}, "JSON_PARSER_ERROR"),
    ],
)
async def test_values_of_the_wrong_type_are_json_parser_errors(
    raw: aiohttp.ClientSession,
    server: RunningServer,
    session: dict[str, str],
    body: dict[str, Any],
    code: str,
) -> None:
    status, answer = await _call(raw, server, session, "POST", f"{API}/sobjects/Account", body)

    assert (status, answer[0]["errorCode"]) == (400, code)


async def test_a_lookup_to_a_malformed_id_is_malformed_id(
    raw: aiohttp.ClientSession, server: RunningServer, session: dict[str, str]
) -> None:
    status, answer = await _call(
        raw,
        server,
        session,
        "POST",
        f"{API}/sobjects/Contact",
        {"LastName": "X", "AccountId": "not-an-id"},
    )

    assert (status, answer[0]["errorCode"], answer[0]["fields"]) == (
        400,
        "MALFORMED_ID",
        ["AccountId"],
    )


def test_fifteen_character_ids_gain_their_checksum() -> None:
    assert normalise("001D000000IqhSL") == "001D000000IqhSLIAZ"
    assert normalise("001D000000IqhSLIAZ") == "001D000000IqhSLIAZ"
    assert normalise("001D000000IqhSLXXX") is None


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Account",
        "select Id, Name from Account where Name = 'O\\'Brien' and Website != null limit 5",
        "SELECT Id FROM PricebookEntry WHERE Product2.SKU__c IN ('A', 'B') ORDER BY UnitPrice",
    ],
)
def test_the_soql_subset_parses(soql: str) -> None:
    assert parse_soql(soql).sobject in {"Account", "PricebookEntry"}


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT COUNT() FROM Account",
        "SELECT Id FROM Account WHERE (Name = 'a')",
        "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
        "SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:3",
        "SELECT Id FROM Account LIMIT",
    ],
)
def test_the_rest_is_malformed(soql: str) -> None:
    with pytest.raises(SalesforceError) as refused:
        parse_soql(soql)
    assert refused.value.code == "MALFORMED_QUERY"


async def _bayeux(
    raw: aiohttp.ClientSession, creds: dict[str, Any], headers: dict[str, str], *messages: Any
) -> tuple[int, list[dict[str, Any]]]:
    async with raw.post(creds["cometd_url"], json=list(messages), headers=headers) as response:
        return response.status, await response.json()


async def test_bayeux_handshake_subscribe_and_replay_all(
    raw: aiohttp.ClientSession,
    server: RunningServer,
    session: dict[str, str],
    creds: dict[str, Any],
) -> None:
    await _call(raw, server, session, "POST", f"{API}/sobjects/Account", {"Name": "First"})
    status, (hello,) = await _bayeux(
        raw,
        creds,
        session,
        {
            "channel": "/meta/handshake",
            "version": "1.0",
            "supportedConnectionTypes": ["long-polling"],
            "id": "1",
        },
    )
    assert status == 200
    assert hello["successful"]
    assert hello["ext"]["replay"] is True
    client = hello["clientId"]
    channel = "/data/AccountChangeEvent"
    _, (subscribed,) = await _bayeux(
        raw,
        creds,
        session,
        {
            "channel": "/meta/subscribe",
            "clientId": client,
            "subscription": channel,
            "id": "2",
            "ext": {"replay": {channel: -2}},
        },
    )
    assert subscribed["successful"]

    _, replies = await _bayeux(
        raw,
        creds,
        session,
        {
            "channel": "/meta/connect",
            "clientId": client,
            "connectionType": "long-polling",
            "id": "3",
        },
    )

    data = [r for r in replies if r["channel"] == channel]
    assert len(data) == 1
    header = data[0]["data"]["payload"]["ChangeEventHeader"]
    assert (header["changeType"], header["entityName"]) == ("CREATE", "Account")
    assert data[0]["data"]["payload"]["Name"] == "First"
    assert isinstance(data[0]["data"]["event"]["replayId"], int)
    assert replies[-1]["channel"] == "/meta/connect"
    assert replies[-1]["successful"]


async def test_bayeux_refuses_an_unknown_replay_id_and_an_unknown_client(
    raw: aiohttp.ClientSession,
    session: dict[str, str],
    creds: dict[str, Any],
) -> None:
    _, (hello,) = await _bayeux(
        raw,
        creds,
        session,
        {
            "channel": "/meta/handshake",
            "version": "1.0",
            "supportedConnectionTypes": ["long-polling"],
        },
    )
    channel = "/data/ContactChangeEvent"
    _, (refused,) = await _bayeux(
        raw,
        creds,
        session,
        {
            "channel": "/meta/subscribe",
            "clientId": hello["clientId"],
            "subscription": channel,
            "ext": {"replay": {channel: 3}},
        },
    )
    _, (unknown,) = await _bayeux(
        raw,
        creds,
        session,
        {"channel": "/meta/connect", "clientId": "nobody", "connectionType": "long-polling"},
    )

    assert not refused["successful"]
    assert "replayId {3}" in refused["error"]
    assert not unknown["successful"]
    assert unknown["advice"]["reconnect"] == "handshake"


async def test_bayeux_denies_a_handshake_without_a_session(
    raw: aiohttp.ClientSession, creds: dict[str, Any]
) -> None:
    status, (denied,) = await _bayeux(
        raw, creds, {"Authorization": "Bearer x"}, {"channel": "/meta/handshake", "version": "1.0"}
    )

    assert status == 401
    assert denied["successful"] is False
    assert denied["error"] == "403::Handshake denied"


async def test_an_unknown_grant_type_is_refused(
    raw: aiohttp.ClientSession, creds: dict[str, Any]
) -> None:
    async with raw.post(creds["token_url"], data={"grant_type": "password"}) as response:
        body = await response.json()

    assert response.status == 400
    assert body["error"] == "unsupported_grant_type"


def test_the_registry_builds_it_by_name() -> None:
    sim = create("salesforce")

    entry = sim.manifest_entry("https://127.0.0.1:8443")

    assert isinstance(sim, SalesforceSimulator)
    assert "salesforce" in system_names()
    assert entry["credentials"]["token_url"] == "https://127.0.0.1:8443/services/oauth2/token"
    assert entry["credentials"]["jwt_private_key_pem"].startswith("-----BEGIN PRIVATE KEY-----")


async def test_injected_throttling_shrinks_the_daily_allocation(
    raw: aiohttp.ClientSession, server: RunningServer, session: dict[str, str]
) -> None:
    async with raw.post(
        f"{server.base_url}/_sandbox/faults", json={"throttle_factor": 0.001}
    ) as response:
        assert response.status == 200
    statuses = []
    for _ in range(17):
        status, _ = await _call(raw, server, session, "GET", f"{API}/limits")
        statuses.append(status)

    assert statuses == [200] * 15 + [403] * 2


async def test_a_body_that_is_not_json_is_a_json_parser_error(
    raw: aiohttp.ClientSession, server: RunningServer, session: dict[str, str]
) -> None:
    headers = {**session, "Content-Type": "application/json"}
    url = f"{server.base_url}{API}/sobjects/Account"
    async with raw.post(url, data=b"{not json", headers=headers) as response:
        body = await response.json()

    assert response.status == 400
    assert body[0]["errorCode"] == "JSON_PARSER_ERROR"
