"""crossdock.console."""
