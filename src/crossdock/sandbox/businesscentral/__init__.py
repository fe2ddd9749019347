"""The Business Central simulator: Entra ID client credentials and the API v2.0 (OData).

Start one in a test::

    sim = BusinessCentralSimulator()
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # token_url, api_url, client_id...

Besides the kit's ``/_sandbox`` endpoints it has ``/_sandbox/businesscentral/settings``
(page size, 409 or 412 for a stale ETag, rate window, concurrency, token lifetime),
``revoke-tokens``, ``interfere`` (another user changes a sales order just before the next
write to it), ``race-customer`` (another user inserts a customer just before the next
customer POST) and ``inventory`` (adjust an item). Importing this package registers it with the
sandbox registry under ``businesscentral``.
"""

from crossdock.sandbox.businesscentral._limits import PrincipalLimits
from crossdock.sandbox.businesscentral._odata import EQ_FIELDS, MAX_PAGE_SIZE, parse_filter
from crossdock.sandbox.businesscentral._simulator import (
    DEFAULT_DATA,
    SCOPE,
    BusinessCentralSimulator,
    Interference,
    Settings,
    default_scenario,
)
from crossdock.sandbox.businesscentral._state import Company, Entity
from crossdock.sandbox.businesscentral._wire import (
    ENTITY_CHANGED_MESSAGE,
    ODataError,
    error_body,
    etag,
)
from crossdock.sandbox.kit import register

register(BusinessCentralSimulator.system, BusinessCentralSimulator)

__all__ = [
    "DEFAULT_DATA",
    "ENTITY_CHANGED_MESSAGE",
    "EQ_FIELDS",
    "MAX_PAGE_SIZE",
    "SCOPE",
    "BusinessCentralSimulator",
    "Company",
    "Entity",
    "Interference",
    "ODataError",
    "PrincipalLimits",
    "Settings",
    "default_scenario",
    "error_body",
    "etag",
    "parse_filter",
]
