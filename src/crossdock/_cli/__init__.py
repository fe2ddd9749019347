"""Command groups of the `crossdock` CLI, one module each."""
