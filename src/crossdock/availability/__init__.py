"""crossdock.availability."""
