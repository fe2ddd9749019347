"""Salesforce connector: accounts, contacts, orders and cases over REST; Change Data Capture in.

Outbound, `SalesforceConnector` handles ``customer.upsert``, ``customer.upsert_batch``,
``order.create``, ``order.update_status`` and ``case.open``, every write keyed by an external
id, under the org's daily allocation (`DailyAllocation` fed by ``Sforce-Limit-Info``). Order
lines without a SKU and sold gift cards go to catch-all products (``custom_product``,
``gift_card_product``, by ProductCode); an Order racing its Account's upsert is retried.
Inbound, `ChangeSubscriber` follows Change Data Capture over CometD and commits canonical
``customer.upserted`` events with their replay ids through a `ReplayStore`. The pure parts are
`order_from_salesforce`, `customer_from_records` and the field mappers in `records`.
"""

from crossdock.connectors.salesforce.cdc import (
    ACCOUNT_CHANNELS,
    ChangeEvent,
    ChangeSubscriber,
    DecodeError,
    StreamingError,
    is_echo,
    parse_change,
)
from crossdock.connectors.salesforce.connector import (
    ACCOUNT_RETRY_AFTER_S,
    CASE_OPEN,
    COLLECTION_LIMIT,
    CUSTOMER_UPSERT,
    CUSTOMER_UPSERT_BATCH,
    DEFAULT_CUSTOM_PRODUCT,
    DEFAULT_GIFT_CARD_PRODUCT,
    ORDER_CREATE,
    ORDER_UPDATE_STATUS,
    CatchAllProductError,
    RecordResult,
    SalesforceConnector,
    UnknownSkuError,
)
from crossdock.connectors.salesforce.errors import SALESFORCE_ERROR_TABLE, VALIDATION_CODES
from crossdock.connectors.salesforce.orders import order_from_salesforce
from crossdock.connectors.salesforce.records import (
    account_fields,
    contact_fields,
    customer_from_records,
    order_fields,
    order_item_fields,
)
from crossdock.connectors.salesforce.replay import (
    BackboneReplayStore,
    InMemoryReplayStore,
    ReplayStore,
)

__all__ = [
    "ACCOUNT_CHANNELS",
    "ACCOUNT_RETRY_AFTER_S",
    "CASE_OPEN",
    "COLLECTION_LIMIT",
    "CUSTOMER_UPSERT",
    "CUSTOMER_UPSERT_BATCH",
    "DEFAULT_CUSTOM_PRODUCT",
    "DEFAULT_GIFT_CARD_PRODUCT",
    "ORDER_CREATE",
    "ORDER_UPDATE_STATUS",
    "SALESFORCE_ERROR_TABLE",
    "VALIDATION_CODES",
    "BackboneReplayStore",
    "CatchAllProductError",
    "ChangeEvent",
    "ChangeSubscriber",
    "DecodeError",
    "InMemoryReplayStore",
    "RecordResult",
    "ReplayStore",
    "SalesforceConnector",
    "StreamingError",
    "UnknownSkuError",
    "account_fields",
    "contact_fields",
    "customer_from_records",
    "is_echo",
    "order_fields",
    "order_from_salesforce",
    "order_item_fields",
    "parse_change",
]
