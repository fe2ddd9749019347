"""Crossdock: an open-source retail integration hub."""

from crossdock.__about__ import __version__

__all__ = ["__version__"]
