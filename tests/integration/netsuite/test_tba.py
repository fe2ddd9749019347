"""Token-based auth against the simulator, checked with oauthlib as the independent side."""

from __future__ import annotations

import re
import ssl
import time
from pathlib import Path
from urllib.parse import unquote

import aiohttp
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from crossdock.connectorkit.auth import OAuth1TokenAuth
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.connectors.netsuite import NetSuiteConnector
from crossdock.sandbox.kit import LocalCA, serve
from crossdock.sandbox.netsuite import NetSuiteSimulator

from .conftest import Rig, oauth_client


async def test_a_request_signed_by_oauthlib_is_accepted(rig: Rig) -> None:
    url = f"{rig.rest}/record/v1/inventoryItem/5501?expandSubResources=true&fields=itemId"
    status, body, _ = await rig.signed("GET", url)
    assert status == 200, body
    assert body["itemId"] == "SKU-RED-M"


async def test_a_signed_post_with_a_json_body_and_query_is_accepted(rig: Rig) -> None:
    url = f"{rig.rest}/query/v1/suiteql?limit=1&offset=0"
    query = {"q": "SELECT id, itemid FROM item ORDER BY id"}
    status, body, _ = await rig.signed("POST", url, query, headers={"Prefer": "transient"})
    assert status == 200, body
    assert body["items"][0]["itemid"] == "SKU-RED-M"


async def test_changing_a_query_parameter_after_signing_is_refused(rig: Rig) -> None:
    signed_url = f"{rig.rest}/record/v1/inventoryItem/5501?fields=itemId"
    sent_url = f"{rig.rest}/record/v1/inventoryItem/5501?fields=displayName"
    status, body, headers = await rig.signed("GET", signed_url, send_url=sent_url)
    assert status == 401
    assert headers["Content-Type"].startswith("application/vnd.oracle.resource+json; type=error")
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


async def test_changing_the_path_after_signing_is_refused(rig: Rig) -> None:
    signed_url = f"{rig.rest}/record/v1/inventoryItem/5501"
    status, body, _ = await rig.signed(
        "GET", signed_url, send_url=f"{rig.rest}/record/v1/inventoryItem/5502"
    )
    assert status == 401
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"


async def test_a_reused_nonce_is_refused(rig: Rig) -> None:
    url = f"{rig.rest}/record/v1/inventoryItem/5501"
    stamp = str(int(time.time()))
    first, _, _ = await rig.signed(
        "GET", url, client=oauth_client(rig.creds, nonce="fixednonce123", timestamp=stamp)
    )
    again, body, _ = await rig.signed(
        "GET", url, client=oauth_client(rig.creds, nonce="fixednonce123", timestamp=stamp)
    )
    assert (first, again) == (200, 401)
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert "nonce already used" in rig.sim.tba.refusals


async def test_a_stale_timestamp_is_refused(rig: Rig) -> None:
    url = f"{rig.rest}/record/v1/inventoryItem/5501"
    stale = str(int(time.time()) - 600)
    status, body, _ = await rig.signed("GET", url, client=oauth_client(rig.creds, timestamp=stale))
    assert status == 401
    assert body["title"] == "Unauthorized"


async def test_a_wrong_secret_unknown_token_or_realm_is_refused(rig: Rig) -> None:
    url = f"{rig.rest}/record/v1/inventoryItem/5501"
    bad = [
        oauth_client(rig.creds, client_secret="not-the-secret"),
        oauth_client(rig.creds, resource_owner_key="unknown-token"),
        oauth_client(rig.creds, realm="1234567-sb1"),
    ]
    for client in bad:
        status, body, _ = await rig.signed("GET", url, client=client)
        assert status == 401
        assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert len(rig.sim.tba.refusals) == 3


def _fields(header: str) -> dict[str, str]:
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}


def test_the_connector_signature_equals_oauthlibs_on_the_same_inputs() -> None:
    creds = {
        "consumer_key": "ck-äbc",
        "consumer_secret": "cs/+=&secret",
        "token_id": "tok 1",
        "token_secret": "ts~!*()'",
        "realm": "1234567_SB1",
    }
    ours = OAuth1TokenAuth(
        account_id="1234567-sb1",
        consumer_key=creds["consumer_key"],
        consumer_secret=creds["consumer_secret"],
        token_id=creds["token_id"],
        token_secret=creds["token_secret"],
    )
    url = (
        "https://1234567-SB1.SuiteTalk.api.netsuite.com/services/rest/query/v1/suiteql"
        "?limit=10&offset=20&q=a%20b%2Bc&q=a"
    )
    for method in ("GET", "POST", "PUT"):
        header = ours.authorization(method, url, nonce="n0nce-xyz", timestamp=1764217539)
        client = oauth_client(creds, nonce="n0nce-xyz", timestamp="1764217539")
        _, theirs, _ = client.sign(url, http_method=method)
        mine, reference = _fields(header), _fields(theirs["Authorization"])
        assert mine["oauth_signature"] == reference["oauth_signature"]
        assert mine["realm"] == reference["realm"] == "1234567_SB1"


def test_the_connector_signature_verifies_with_oauthlibs_server_side() -> None:
    ours = OAuth1TokenAuth(
        account_id="9876543",
        consumer_key="ck",
        consumer_secret="cs",
        token_id="tk",
        token_secret="ts",
    )
    url = "https://9876543.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/eid:A-1"
    header = ours.authorization("PUT", url, nonce="abcdef123", timestamp=1764217539)
    request = OAuthRequest(url, http_method="PUT", headers={"Authorization": header})
    params = oauth_signature.collect_parameters(
        uri_query="", headers=request.headers, exclude_oauth_signature=False, with_realm=False
    )
    request.params = [(k, v) for k, v in params if k != "oauth_signature"]
    request.signature = dict(params)["oauth_signature"]
    assert oauth_signature.verify_hmac_sha256(request, "cs", "ts")
    assert not oauth_signature.verify_hmac_sha256(request, "cs", "other")


async def test_over_https_the_scheme_is_signed_and_checked(tmp_path: Path) -> None:
    sim = NetSuiteSimulator()
    ca = LocalCA.load_or_create(tmp_path / "ca")
    context = ssl.create_default_context(cafile=str(ca.ca_cert))
    async with serve(sim.app, tls=ca) as server:
        creds = sim.credentials_for(server.base_url)
        assert creds["rest_url"].startswith("https://")
        http = HttpClient(AiohttpTransport(ssl_context=context), default_timeout=5)
        try:
            connector = NetSuiteConnector(
                http=http,
                account_id=creds["account_id"],
                consumer_key=creds["consumer_key"],
                consumer_secret=creds["consumer_secret"],
                token_id=creds["token_id"],
                token_secret=creds["token_secret"],
                base_url=creds["rest_url"],
            )
            record = await connector.read("inventoryItem", "5501")
            assert record["itemId"] == "SKU-RED-M"
            # Signed for http:// but sent over https://: the base string differs, refused.
            client = oauth_client(creds)
            http_url = creds["rest_url"].replace("https://", "http://") + "/record/v1/location/1"
            _, headers, _ = client.sign(http_url, http_method="GET")
            async with aiohttp.ClientSession() as session:
                https_url = creds["rest_url"] + "/record/v1/location/1"
                async with session.get(https_url, headers=headers, ssl=context) as response:
                    assert response.status == 401
        finally:
            await http.aclose()
