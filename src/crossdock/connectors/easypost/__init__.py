"""EasyPost connector: tracker webhooks to canonical shipment events, and tracker creation.

See `EasyPostConnector`; the pure parts are `map_carrier_status` (UPS and FedEx codes to the
canonical status), `parse_event` and `shipment_from_tracker`, and `sign`/`verify` for the
``X-Hmac-Signature`` header.
"""

from crossdock.connectors.easypost.auth import ApiKeyAuth
from crossdock.connectors.easypost.connector import (
    EASYPOST_ERROR_TABLE,
    TRACK_COMMAND,
    EasyPostConnector,
)
from crossdock.connectors.easypost.decode import (
    DecodeError,
    TrackerEvent,
    event_id,
    parse_event,
    resolve_status,
    shipment_from_tracker,
)
from crossdock.connectors.easypost.directory import (
    InMemoryShipmentDirectory,
    ShipmentDirectory,
    ShipmentRef,
)
from crossdock.connectors.easypost.signature import (
    SIGNATURE_HEADER,
    SIGNATURE_PREFIX,
    normalise_secret,
    sign,
    verify,
)
from crossdock.connectors.easypost.status import CarrierStatus, carrier_family, map_carrier_status

__all__ = [
    "EASYPOST_ERROR_TABLE",
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "TRACK_COMMAND",
    "ApiKeyAuth",
    "CarrierStatus",
    "DecodeError",
    "EasyPostConnector",
    "InMemoryShipmentDirectory",
    "ShipmentDirectory",
    "ShipmentRef",
    "TrackerEvent",
    "carrier_family",
    "event_id",
    "map_carrier_status",
    "normalise_secret",
    "parse_event",
    "resolve_status",
    "shipment_from_tracker",
    "sign",
    "verify",
]
