"""The durable backbone: inbox, event log, outbox and work queue, dead letters, links, flow state.

Open a store with `open_store` (a URL: ``sqlite:///path/to/hub.db``, a plain file path, or
``postgresql://...``; default ``CROSSDOCK_DATABASE_URL``), or build `SQLiteStore` /
`PostgresStore` directly. Every implementation follows the `Store` protocol.
"""

from __future__ import annotations

import os
from typing import Any

from crossdock.backbone._core import SqlStore
from crossdock.backbone.store import (
    INBOX_COUNT_STATES,
    Attempt,
    AuditEntry,
    BreakerStatus,
    ClaimedCommand,
    Command,
    CommandRecord,
    CommandStatus,
    DeadLetter,
    Delivery,
    Enqueued,
    FlowState,
    InboxItem,
    InboxRecord,
    InboxStatus,
    JSONObject,
    LeaseLost,
    Link,
    LinkConflict,
    MigrationError,
    NotFound,
    Retry,
    RetryPolicy,
    StaleFlowState,
    Store,
    StoredEvent,
    StoreError,
    StoreLocked,
    StoreUnavailable,
    Transaction,
)

URL_VARIABLE = "CROSSDOCK_DATABASE_URL"
DEFAULT_URL = "sqlite:///crossdock.db"


def store_from_url(url: str | None = None, **kwargs: Any) -> SqlStore:
    """Build (without starting) the store a URL names.

    Args:
        url: ``postgresql://...`` / ``postgres://...``, ``sqlite:///relative.db``,
            ``sqlite:////absolute/path.db`` or a plain file path. Default: the
            ``CROSSDOCK_DATABASE_URL`` variable, else ``sqlite:///crossdock.db``.
        **kwargs: Passed to the store's constructor.
    """
    resolved = url or os.environ.get(URL_VARIABLE) or DEFAULT_URL
    if resolved.startswith(("postgresql://", "postgres://")):
        from crossdock.backbone.postgres import PostgresStore

        return PostgresStore(resolved, **kwargs)
    from crossdock.backbone.sqlite import SQLiteStore

    if resolved.startswith("sqlite://"):
        resolved = resolved.removeprefix("sqlite://").removeprefix("/")
        if not resolved:
            raise StoreError("an sqlite:// URL needs a file path (sqlite:///hub.db)")
    elif "://" in resolved:
        raise StoreError(f"unsupported database URL scheme in {resolved.split('://')[0]}://...")
    return SQLiteStore(resolved, **kwargs)


async def open_store(url: str | None = None, **kwargs: Any) -> SqlStore:
    """Build and start the store a URL names (see `store_from_url`)."""
    store = store_from_url(url, **kwargs)
    await store.start()
    return store


__all__ = [
    "DEFAULT_URL",
    "INBOX_COUNT_STATES",
    "URL_VARIABLE",
    "Attempt",
    "AuditEntry",
    "BreakerStatus",
    "ClaimedCommand",
    "Command",
    "CommandRecord",
    "CommandStatus",
    "DeadLetter",
    "Delivery",
    "Enqueued",
    "FlowState",
    "InboxItem",
    "InboxRecord",
    "InboxStatus",
    "JSONObject",
    "LeaseLost",
    "Link",
    "LinkConflict",
    "MigrationError",
    "NotFound",
    "Retry",
    "RetryPolicy",
    "SqlStore",
    "StaleFlowState",
    "Store",
    "StoreError",
    "StoreLocked",
    "StoreUnavailable",
    "StoredEvent",
    "Transaction",
    "open_store",
    "store_from_url",
]
