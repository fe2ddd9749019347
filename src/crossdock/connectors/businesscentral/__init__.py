"""Business Central connector (API v2.0): mapping, customers, sales orders (create, update,
close), fulfilment, invoices, returns (credit memos), polling.

See `BusinessCentralConnector`. Pure parts: `order_from_businesscentral` (salesOrder to the
canonical order), `inventory_level_from_item` (item to inventory level), `sales_order_body`,
`customer_fields`, `ship_quantities`, `credit_memo_body`, `close_plan` and `PollCursor`; the
error table `BC_ERROR_TABLE` and the budget `BusinessCentralBudget`.
"""

from crossdock.connectors.businesscentral.bodies import (
    EXTERNAL_DOCUMENT_MAX,
    customer_fields,
    eq_filter,
    external_document_number,
    odata_string,
    sales_order_body,
    ship_quantities,
)
from crossdock.connectors.businesscentral.budget import BusinessCentralBudget
from crossdock.connectors.businesscentral.connector import (
    AUTHORIZE_RETURN,
    CLOSE_ORDER,
    CLOSED,
    CREATE_ORDER,
    CREDIT_RETURN,
    DEFAULT_CUSTOM_ACCOUNT,
    DEFAULT_GIFT_CARD_ACCOUNT,
    DEFAULT_SHIPPING_ACCOUNT,
    DELETED,
    DRAFT,
    FULFIL_ORDER,
    INVOICE_CREATE,
    RECORD_FULFILLMENT,
    SCOPE,
    UPDATE_ORDER,
    UPSERT_CUSTOMER,
    BusinessCentralConnector,
    PollResult,
)
from crossdock.connectors.businesscentral.cursor import CURSOR_FLOW, CursorStore, PollCursor
from crossdock.connectors.businesscentral.documents import close_plan, credit_memo_body
from crossdock.connectors.businesscentral.errors import (
    BC_ERROR_TABLE,
    ENTITY_CHANGED,
    SAME_KEY_EXISTS,
)
from crossdock.connectors.businesscentral.inventory import inventory_level_from_item
from crossdock.connectors.businesscentral.orders import order_from_businesscentral

__all__ = [
    "AUTHORIZE_RETURN",
    "BC_ERROR_TABLE",
    "CLOSED",
    "CLOSE_ORDER",
    "CREATE_ORDER",
    "CREDIT_RETURN",
    "CURSOR_FLOW",
    "DEFAULT_CUSTOM_ACCOUNT",
    "DEFAULT_GIFT_CARD_ACCOUNT",
    "DEFAULT_SHIPPING_ACCOUNT",
    "DELETED",
    "DRAFT",
    "ENTITY_CHANGED",
    "EXTERNAL_DOCUMENT_MAX",
    "FULFIL_ORDER",
    "INVOICE_CREATE",
    "RECORD_FULFILLMENT",
    "SAME_KEY_EXISTS",
    "SCOPE",
    "UPDATE_ORDER",
    "UPSERT_CUSTOMER",
    "BusinessCentralBudget",
    "BusinessCentralConnector",
    "CursorStore",
    "PollCursor",
    "PollResult",
    "close_plan",
    "credit_memo_body",
    "customer_fields",
    "eq_filter",
    "external_document_number",
    "inventory_level_from_item",
    "odata_string",
    "order_from_businesscentral",
    "sales_order_body",
    "ship_quantities",
]
