"""The version of the crossdock package, read by hatchling and `crossdock --version`."""

__version__ = "0.1.0"
