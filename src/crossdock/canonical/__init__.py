"""crossdock.canonical."""
