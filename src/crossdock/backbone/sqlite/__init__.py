"""The embedded SQLite store (WAL mode, one file, one hub process)."""

from crossdock.backbone.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
