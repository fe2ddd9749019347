"""The Salesforce simulator: both OAuth 2.0 server flows, REST sObjects with upsert by external
id and sObject Collections, a SOQL subset, the daily API allocation, and Change Data Capture
delivered over CometD long polling with replay ids, retention and gap events.

Start one in a test::

    sim = SalesforceSimulator()
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # token_url, client_id, jwt key...

Admin helpers live under ``/_sandbox/salesforce`` (``clock``, ``limits``, ``sessions/expire``,
``settings``, ``gap``, ``records/{sobject}``). Importing this package registers it with the
sandbox registry under ``salesforce``.
"""

from crossdock.sandbox.kit import register
from crossdock.sandbox.salesforce._cdc import ALL_CHANGES, GAP_TYPES, RETENTION_S, channel_of
from crossdock.sandbox.salesforce._errors import SalesforceError
from crossdock.sandbox.salesforce._ids import make_id, normalise
from crossdock.sandbox.salesforce._simulator import (
    API_VERSION,
    DEFAULT_DATA,
    SalesforceSimulator,
    default_scenario,
)
from crossdock.sandbox.salesforce._soql import parse as parse_soql

register(SalesforceSimulator.system, SalesforceSimulator)

__all__ = [
    "ALL_CHANGES",
    "API_VERSION",
    "DEFAULT_DATA",
    "GAP_TYPES",
    "RETENTION_S",
    "SalesforceError",
    "SalesforceSimulator",
    "channel_of",
    "default_scenario",
    "make_id",
    "normalise",
    "parse_soql",
]
