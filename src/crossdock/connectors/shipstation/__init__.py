"""ShipStation V1 connector: orders released to the warehouse, shipments back by SHIP_NOTIFY.

See `ShipStationConnector`. The pure parts: `createorder_body` (canonical order to
``createorder``), `parse_notification` and `shipment_from_shipstation` /
`shipment_events` (shipments to canonical ``shipment.updated``), `HookTokens` (the secret
token of the unsigned hook URL), `SHIPSTATION_ERROR_TABLE` and `shipstation_budget`.
"""

from crossdock.connectors.shipstation.budget import shipstation_budget
from crossdock.connectors.shipstation.connector import (
    CANCEL_COMMAND,
    HOLD_COMMAND,
    RELEASE_COMMAND,
    UNHOLD_COMMAND,
    ShipStationConnector,
)
from crossdock.connectors.shipstation.errors import (
    SHIPSTATION_ERROR_TABLE,
    DecodeError,
    rate_limit_reset,
)
from crossdock.connectors.shipstation.hooks import (
    HOOK_TOKEN_HEADER,
    HookTokenRefusedError,
    HookTokens,
    new_hook_token,
)
from crossdock.connectors.shipstation.orders import (
    createorder_body,
    from_shipstation_time,
    to_shipstation_time,
)
from crossdock.connectors.shipstation.shipments import (
    SHIPMENT_EVENT,
    ShipNotify,
    carrier_name,
    parse_notification,
    parse_shipments_page,
    shipment_event_id,
    shipment_events,
    shipment_from_shipstation,
    with_items,
)

__all__ = [
    "CANCEL_COMMAND",
    "HOLD_COMMAND",
    "HOOK_TOKEN_HEADER",
    "RELEASE_COMMAND",
    "SHIPMENT_EVENT",
    "SHIPSTATION_ERROR_TABLE",
    "UNHOLD_COMMAND",
    "DecodeError",
    "HookTokenRefusedError",
    "HookTokens",
    "ShipNotify",
    "ShipStationConnector",
    "carrier_name",
    "createorder_body",
    "from_shipstation_time",
    "new_hook_token",
    "parse_notification",
    "parse_shipments_page",
    "rate_limit_reset",
    "shipment_event_id",
    "shipment_events",
    "shipment_from_shipstation",
    "shipstation_budget",
    "to_shipstation_time",
    "with_items",
]
