"""NetSuite connector: pure mapping of NetSuite records to the canonical model (see `orders`)."""

from crossdock.connectors.netsuite.orders import order_from_netsuite

__all__ = ["order_from_netsuite"]
