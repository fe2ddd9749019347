"""The ShipStation V1 simulator: Basic auth, 40 requests per minute, orders, shipments, hooks.

Start one in a test::

    sim = ShipStationSimulator(rate_limit=5, rate_window_s=1.0, webhook_time_scale=0.001)
    async with serve(sim.app) as server:
        creds = sim.credentials_for(server.base_url)   # api_key, api_secret, api_url

Importing this package registers it as ``shipstation`` with the sandbox registry.

Endpoints: ``POST /orders/createorder`` (upsert by ``orderKey``), ``POST /orders/createorders``,
``GET /orders/{orderId}``, ``GET /orders?orderNumber=``, ``POST /orders/holduntil``,
``POST /orders/restorefromhold``, ``GET /shipments?batchId=&includeShipmentItems=``,
``POST /shipments/voidlabel``, ``POST /webhooks/subscribe``, ``GET /webhooks``,
``DELETE /webhooks/{id}``. Warehouse helpers: ``POST /_sandbox/shipstation/ship``,
``/void``, ``/limits``, ``GET /_sandbox/shipstation/orders``. Effects per ``orderKey`` under
``GET /_sandbox/effects``: kinds ``order`` (attempts vs created), ``shipment`` and ``void``.
"""

from crossdock.sandbox.kit import register
from crossdock.sandbox.shipstation._defaults import (
    API_KEY,
    API_SECRET,
    WEBHOOK_EVENTS,
    default_scenario,
)
from crossdock.sandbox.shipstation._orders import ORDER_STATUSES, ss_timestamp
from crossdock.sandbox.shipstation._simulator import AutoShip, ShipStationSimulator

register("shipstation", ShipStationSimulator)

__all__ = [
    "API_KEY",
    "API_SECRET",
    "ORDER_STATUSES",
    "WEBHOOK_EVENTS",
    "AutoShip",
    "ShipStationSimulator",
    "default_scenario",
    "ss_timestamp",
]
