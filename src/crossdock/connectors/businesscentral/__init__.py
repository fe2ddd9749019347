"""Business Central connector: pure mapping of BC API v2.0 entities to the canonical model."""

from crossdock.connectors.businesscentral.orders import order_from_businesscentral

__all__ = ["order_from_businesscentral"]
