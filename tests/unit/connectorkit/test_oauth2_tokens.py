"""OAuth 2.0 token lifetimes: expires_in, Salesforce's issued_at, and refused grants."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from crossdock.connectorkit import AuthFailedError, RetryLaterError
from crossdock.connectorkit.auth import OAuth2ClientCredentials
from crossdock.connectorkit.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    InProcessTransport,
    encode_json,
    make_headers,
)
from crossdock.runtime.clock import ManualClock

START = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class TokenEndpoint:
    def __init__(self, body: dict[str, object], status: int = 200) -> None:
        self.body, self.status, self.forms = body, status, list[dict[str, list[str]]]()

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        assert request.header("content-type") == "application/x-www-form-urlencoded"
        self.forms.append(parse_qs((request.content or b"").decode()))
        body = (
            {**self.body, "access_token": f"t{len(self.forms)}"}
            if self.status == 200
            else self.body
        )
        return HttpResponse(self.status, make_headers(), encode_json(body))


def auth_for(
    endpoint: TokenEndpoint, clock: ManualClock, **options: object
) -> OAuth2ClientCredentials:
    http = HttpClient(InProcessTransport.from_handler(endpoint))
    return OAuth2ClientCredentials(
        http,
        "https://login.test/oauth2/v2.0/token",
        client_id="app",
        client_secret="s3cret",
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


async def test_entra_form_and_expires_in() -> None:
    endpoint = TokenEndpoint({"token_type": "Bearer", "expires_in": 3599})
    clock = ManualClock(START)
    auth = auth_for(endpoint, clock, scope="https://api.businesscentral.dynamics.com/.default")
    first = await auth.token()
    assert endpoint.forms[0] == {
        "grant_type": ["client_credentials"],
        "client_id": ["app"],
        "client_secret": ["s3cret"],
        "scope": ["https://api.businesscentral.dynamics.com/.default"],
    }
    clock.advance(3599 - 61)
    assert await auth.token() is first
    clock.advance(2)
    assert (await auth.token()).value.reveal() == "t2"


async def test_salesforce_issued_at_with_a_configured_session_lifetime() -> None:
    issued_ms = int((START.timestamp() - 600) * 1000)  # issued ten minutes before we read it
    endpoint = TokenEndpoint(
        {"instance_url": "https://acme.my.salesforce.test", "issued_at": str(issued_ms)}
    )
    clock = ManualClock(START)
    auth = auth_for(endpoint, clock, default_lifetime=7200)
    token = await auth.token()
    assert token.extras["instance_url"] == "https://acme.my.salesforce.test"
    assert token.expires_at == pytest.approx(clock.monotonic() + 7200 - 600)
    assert "access_token" not in token.extras


async def test_refused_and_failing_token_endpoints() -> None:
    refused = auth_for(
        TokenEndpoint({"error": "invalid_grant", "error_description": "bad"}, 400), ManualClock()
    )
    with pytest.raises(AuthFailedError, match="invalid_grant"):
        await refused.token()
    failing = auth_for(TokenEndpoint({"error": "temporarily_unavailable"}, 503), ManualClock())
    with pytest.raises(RetryLaterError):
        await failing.token()
