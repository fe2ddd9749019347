"""crossdock.api."""
