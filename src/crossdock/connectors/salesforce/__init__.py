"""Salesforce connector: pure mapping of Salesforce records to the canonical model."""

from crossdock.connectors.salesforce.orders import order_from_salesforce

__all__ = ["order_from_salesforce"]
