"""crossdock.connectorkit."""
