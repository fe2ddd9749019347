"""The Business Central simulator: Entra ID client credentials and the API v2.0 (OData).

Start one in a test::

    sim = BusinessCentralSimulator()
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # token_url, api_url, client_id...

The company serves customers, items, salesOrders (lines: POST a line, PATCH and DELETE one
under its ``If-Match``; ``Microsoft.NAV.shipAndInvoice``),
the posted salesShipments and salesInvoices that action makes, and salesCreditMemos (deep
insert of lines, PATCH and DELETE of a draft under ``If-Match``, ``Microsoft.NAV.post``).

Besides the kit's ``/_sandbox`` endpoints it has ``/_sandbox/businesscentral/settings``
(page size, 409 or 412 for a stale ETag, rate window, concurrency, token lifetime),
``revoke-tokens``, ``interfere`` (another user changes a sales order, or one of its lines,
just before the next write to it), ``race-customer`` (another user inserts a customer just
before the next customer POST) and ``inventory`` (adjust an item). The kit's
``/_sandbox/effects`` lists, per ``externalDocumentNumber``, the sales orders, each
``shipAndInvoice``, each line POSTed to an order (``salesOrderLine``, key
``<externalDocumentNumber>:<lineObjectNumber>``), the invoices it posted (``salesInvoice``),
the credit memos (``salesCreditMemo``, last state ``Draft``, ``Open`` or ``Deleted``) and
their posting (``postCreditMemo``). Importing this package registers it with the sandbox
registry under ``businesscentral``.
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
