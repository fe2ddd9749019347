"""NetSuite token-based auth, checked against the independent oauthlib implementation."""

from __future__ import annotations

import re

import pytest
from oauthlib import oauth1

from crossdock.connectorkit.auth import OAuth1TokenAuth, netsuite_realm, signature_base_string
from crossdock.connectorkit.http import HttpRequest

CASES = [
    ("GET", "https://1234567.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/42"),
    (
        "POST",
        "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=1000&offset=0",
    ),
    (
        "GET",
        "https://TSTDRV99.SuiteTalk.api.netsuite.com/services/rest/record/v1/customer"
        "?q=email%20START_WITH%20%22zo%C3%AB%22&fields=id%2CentityId&a=2&a=1&tilde=~x",
    ),
    (
        "PUT",
        "https://1234567.suitetalk.api.netsuite.com/services/rest/record/v1/customer/eid:SHOP-9",
    ),
    ("PATCH", "https://example.test:8443/services/rest/record/v1/salesOrder/7?replace=item"),
]
SECRETS = [
    ("consumer-secret", "token-secret"),
    ("c&s+=/ë", "t %s~*"),
]


def _oauthlib_signature(
    method: str, url: str, consumer_secret: str, token_secret: str, realm: str
) -> str:
    client = oauth1.Client(
        "ck-1",
        client_secret=consumer_secret,
        resource_owner_key="tok-1",
        resource_owner_secret=token_secret,
        signature_method=oauth1.SIGNATURE_HMAC_SHA256,
        realm=realm,
        nonce="n0nce-ABC",
        timestamp="1767225600",
    )
    _, headers, _ = client.sign(url, http_method=method)
    match = re.search(r'oauth_signature="([^"]+)"', headers["Authorization"])
    assert match is not None
    return match.group(1)


@pytest.mark.parametrize(("method", "url"), CASES)
@pytest.mark.parametrize(("consumer_secret", "token_secret"), SECRETS)
def test_signature_matches_oauthlib(
    method: str, url: str, consumer_secret: str, token_secret: str
) -> None:
    auth = OAuth1TokenAuth(
        account_id="1234567-sb1",
        consumer_key="ck-1",
        consumer_secret=consumer_secret,
        token_id="tok-1",
        token_secret=token_secret,
    )
    header = auth.authorization(method, url, nonce="n0nce-ABC", timestamp=1767225600)
    ours = re.search(r'oauth_signature="([^"]+)"', header)
    assert ours is not None
    assert ours.group(1) == _oauthlib_signature(
        method, url, consumer_secret, token_secret, "1234567_SB1"
    )


def test_header_carries_an_unsigned_upper_case_realm_and_every_field() -> None:
    auth = OAuth1TokenAuth(
        account_id="1234567-sb1",
        consumer_key="ck",
        consumer_secret="cs",
        token_id="tk",
        token_secret="ts",
    )
    header = auth.authorization("GET", "https://h.test/p", nonce="abcdef", timestamp=1)
    assert header.startswith('OAuth realm="1234567_SB1",oauth_consumer_key="ck",oauth_token="tk",')
    for field in (
        'oauth_signature_method="HMAC-SHA256"',
        'oauth_version="1.0"',
        'oauth_nonce="abcdef"',
    ):
        assert field in header
    base = signature_base_string("GET", "https://h.test/p", {"oauth_nonce": "abcdef"})
    assert "realm" not in base


def test_base_string_signs_query_parameters_sorted_and_encoded() -> None:
    base = signature_base_string(
        "post", "HTTPS://Host.Test/a%20b?b=2&a=x%20y", {"oauth_token": "t"}
    )
    assert base == "POST&https%3A%2F%2Fhost.test%2Fa%2520b&a%3Dx%2520y%26b%3D2%26oauth_token%3Dt"


async def test_apply_signs_with_a_fresh_nonce_and_ignores_the_body() -> None:
    nonces = iter(["nonce-one", "nonce-two"])
    auth = OAuth1TokenAuth(
        account_id="1234567",
        consumer_key="ck",
        consumer_secret="cs",
        token_id="tk",
        token_secret="ts",
        nonce=lambda: next(nonces),
    )
    url = "https://1234567.suitetalk.api.netsuite.com/services/rest/record/v1/customer"
    first = await auth.apply(HttpRequest("POST", url, 5.0, content=b'{"a":1}'))
    second = await auth.apply(HttpRequest("POST", url, 5.0, content=b'{"a":2}'))
    assert 'oauth_nonce="nonce-one"' in (first.header("authorization") or "")
    assert 'oauth_nonce="nonce-two"' in (second.header("Authorization") or "")
    assert await auth.on_unauthorized(first)


def test_realm_and_repr_hide_nothing_they_should_not() -> None:
    assert netsuite_realm("1234567-sb1") == "1234567_SB1"
    auth = OAuth1TokenAuth(
        account_id="1",
        consumer_key="ck",
        consumer_secret="SECRET-C",
        token_id="tk",
        token_secret="SECRET-T",
    )
    assert "SECRET" not in repr(auth)
