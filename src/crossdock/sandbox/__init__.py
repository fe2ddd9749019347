"""crossdock.sandbox."""
