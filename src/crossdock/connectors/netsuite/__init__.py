"""NetSuite connector: SuiteTalk REST with token-based auth (OAuth 1.0a, HMAC-SHA256).

`NetSuiteConnector` performs the ERP commands (customer upsert, sales order by external id,
its ship-to update and close, fulfilment, invoice, return authorization and credit memo) within
the account's concurrency slots, and polls inventory balances and order changes through SuiteQL
from a stored cursor.
`order_from_netsuite` maps a salesOrder record to the canonical order.
"""

from crossdock.connectors.netsuite.budget import DEFAULT_CONCURRENCY, shared_slots
from crossdock.connectors.netsuite.connector import (
    CUSTOMER_UPSERT,
    FULFILLMENT_RECORD,
    INVOICE_CREATE,
    RETURN_AUTHORIZE,
    RETURN_CREDIT,
    SALES_ORDER_CLOSE,
    SALES_ORDER_CREATE,
    SALES_ORDER_UPDATE,
    NetSuiteConnector,
    rest_url,
)
from crossdock.connectors.netsuite.errors import (
    ASYNC_TABLE,
    LOOKUP_TABLE,
    NETSUITE_ERROR_TABLE,
    RESULT_TABLE,
    describe_error,
    error_details,
)
from crossdock.connectors.netsuite.orders import order_from_netsuite
from crossdock.connectors.netsuite.payloads import (
    DEFAULT_CUSTOM_ITEM,
    DEFAULT_GIFT_CARD_ITEM,
    FULFILMENT_BY_STATUS,
    MappingFailedError,
    allocate_lines,
    customer_body,
    record_id_from_location,
    sales_order_body,
)
from crossdock.connectors.netsuite.polling import (
    EPOCH,
    INVENTORY_QUERY,
    ORDERS_QUERY,
    POLL_FLOW,
    Cursor,
    SuiteQLClient,
    inventory_events,
    order_events,
    poll_into,
    suiteql_pages,
)

__all__ = [
    "ASYNC_TABLE",
    "CUSTOMER_UPSERT",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_CUSTOM_ITEM",
    "DEFAULT_GIFT_CARD_ITEM",
    "EPOCH",
    "FULFILLMENT_RECORD",
    "FULFILMENT_BY_STATUS",
    "INVENTORY_QUERY",
    "INVOICE_CREATE",
    "LOOKUP_TABLE",
    "NETSUITE_ERROR_TABLE",
    "ORDERS_QUERY",
    "POLL_FLOW",
    "RESULT_TABLE",
    "RETURN_AUTHORIZE",
    "RETURN_CREDIT",
    "SALES_ORDER_CLOSE",
    "SALES_ORDER_CREATE",
    "SALES_ORDER_UPDATE",
    "Cursor",
    "MappingFailedError",
    "NetSuiteConnector",
    "SuiteQLClient",
    "allocate_lines",
    "customer_body",
    "describe_error",
    "error_details",
    "inventory_events",
    "order_events",
    "order_from_netsuite",
    "poll_into",
    "record_id_from_location",
    "rest_url",
    "sales_order_body",
    "shared_slots",
    "suiteql_pages",
]
