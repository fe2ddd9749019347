"""crossdock.flows."""
