"""crossdock.observability."""
