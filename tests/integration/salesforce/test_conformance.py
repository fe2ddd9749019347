"""Salesforce against its simulator: the kit's standard conformance battery.

OAuth 2.0 client credentials (cached token, refreshed on INVALID_SESSION_ID). Two cases are
adapted or skipped, with what covers them instead:

- auth refused: the battery expects the refusal on a business call (401/403), so the spoiled
  credential is a session id the org does not know; the token endpoint's own refusal
  (HTTP 400 ``invalid_client``/``invalid_grant``) is covered in test_auth.py.
- rate budget: Salesforce's quota is a rolling daily allocation refused with 403
  REQUEST_LIMIT_EXCEEDED, not a 429 burst limit; test_limits.py shows it waiting, not failing.

Salesforce sends no signed webhooks (the inbound cases are skipped); Change Data Capture's
restart, gap and echo cases are in test_cdc.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from crossdock.backbone.store import Command
from crossdock.connectorkit import Connector, RateLimitedError
from crossdock.connectorkit.auth import ApiTokenAuth, AuthScheme, OAuth2ClientCredentials
from crossdock.connectorkit.testing import (
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    SimulatorEnv,
    error_classes,
    make_conformance_tests,
)
from crossdock.connectors.salesforce import CUSTOMER_UPSERT, SalesforceConnector
from crossdock.sandbox.kit import serve
from crossdock.sandbox.salesforce import SalesforceSimulator

KEY = "Shopify_Customer_Id__c"


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    sim = SalesforceSimulator()
    async with serve(sim.app) as server:
        yield SimulatorEnv(server.base_url, sim.credentials_for(server.base_url), sim)


def _connect(env: SimulatorEnv, options: ConnectorOptions) -> Connector:
    creds = options.credentials
    auth: AuthScheme
    if "access_token" in creds:  # a session id given as is (spoiled in the battery)
        auth = ApiTokenAuth(str(creds["access_token"]), header="Authorization", prefix="Bearer ")
    else:
        auth = OAuth2ClientCredentials(
            options.http,
            str(creds["token_url"]),
            client_id=str(creds["client_id"]),
            client_secret=str(creds["client_secret"]),
            clock=options.clock,
        )
    connector = SalesforceConnector(
        http=options.http,
        auth=auth,
        instance_url=env.base_url,
        rate_budget=options.rate_budget,
        breaker=options.breaker,
        clock=options.clock,
    )
    if options.timeout is not None:
        connector.default_timeout = options.timeout  # type: ignore[misc]
    return connector


def _spoil(creds: Mapping[str, Any]) -> Mapping[str, Any]:
    return {**creds, "access_token": "00D5g000004XyZa!AQ4AQnot-a-session"}


async def _probe(connector: Connector) -> object:
    assert isinstance(connector, SalesforceConnector)
    return await connector.query("SELECT Id FROM Account LIMIT 1")


async def _command(env: SimulatorEnv) -> CommandSample:
    customer = {"kind": "business", "account": {"name": "Conformance Trading Ltd"}}
    payload = {"customer": customer, "key": {"field": KEY, "value": "conf-1"}}
    command = Command("flow-1:customer", "salesforce", CUSTOMER_UPSERT, payload)
    return CommandSample(command, effect_kind=f"Account.{KEY}", effect_key="conf-1")


async def _expire_sessions(env: SimulatorEnv) -> None:
    sim: SalesforceSimulator = env.handle
    sim.tokens.expire_all()


SALESFORCE_SPEC = ConformanceSpec(
    name="salesforce",
    start=_start,
    connect=_connect,
    spoil_credentials=_spoil,
    probe=_probe,
    command=_command,
    error_classes=error_classes(s403=RateLimitedError),
    auth_refresh=_expire_sessions,
)

TestSalesforceConformance = make_conformance_tests(SALESFORCE_SPEC)
