"""The NetSuite simulator: SuiteTalk REST web services with token-based auth, exactly checked.

Start one in a test::

    sim = NetSuiteSimulator()
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)  # account_id, consumer/token keys, rest_url

It serves ``/services/rest/record/v1/{type}`` (create, read, update, delete, ``eid:`` upsert,
``!transform``), ``/services/rest/query/v1/suiteql`` (a documented subset), async jobs with
``X-NetSuite-Idempotency-Key``, and 429 beyond its concurrency limit. Importing this package
registers it with the sandbox registry under ``netsuite``.
"""

from crossdock.sandbox.kit import register
from crossdock.sandbox.netsuite._erp import RECORD_TYPES, SO_STATUS, Erp, Stock
from crossdock.sandbox.netsuite._errors import ERROR_MEDIA_TYPE, NetSuiteError, error_body
from crossdock.sandbox.netsuite._simulator import (
    DEFAULT_DATA,
    REST,
    NetSuiteSimulator,
    default_scenario,
)
from crossdock.sandbox.netsuite._suiteql import TIMESTAMP_FORMAT
from crossdock.sandbox.netsuite._tba import TbaRefused, TbaVerifier, realm_for

register(NetSuiteSimulator.system, NetSuiteSimulator)

__all__ = [
    "DEFAULT_DATA",
    "ERROR_MEDIA_TYPE",
    "RECORD_TYPES",
    "REST",
    "SO_STATUS",
    "TIMESTAMP_FORMAT",
    "Erp",
    "NetSuiteError",
    "NetSuiteSimulator",
    "Stock",
    "TbaRefused",
    "TbaVerifier",
    "default_scenario",
    "error_body",
    "realm_for",
]
