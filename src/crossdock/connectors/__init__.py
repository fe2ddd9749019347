"""crossdock.connectors."""
