"""The hub's readiness probe: the store answers and its schema is the one this code expects."""

from __future__ import annotations

from crossdock.api.ports import Readiness, ReadinessProbe
from crossdock.backbone import SqlStore, StoreError
from crossdock.backbone._sql import latest_version

__all__ = ["store_readiness"]


def store_readiness(store: SqlStore) -> ReadinessProbe:
    """Return a probe: ready when the store answers a read and every migration is applied."""

    async def probe() -> Readiness:
        expected = latest_version(store.dialect)
        try:
            version = await store.schema_version()
            await store.queue_depth()
        except (StoreError, OSError) as exc:
            return Readiness(False, (f"store unreachable: {exc}",), {"schema_expected": expected})
        detail = {"schema_version": version, "schema_expected": expected}
        if version != expected:
            reason = (
                f"schema at version {version}, this code needs {expected} (crossdock db upgrade)"
            )
            return Readiness(False, (reason,), detail)
        return Readiness(True, (), detail)

    return probe
