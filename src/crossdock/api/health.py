"""``/healthz`` (the process answers), ``/readyz`` (it can take traffic) and ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from structlog.typing import FilteringBoundLogger

from crossdock.api.ports import Readiness, ReadinessProbe
from crossdock.backbone.store import Store, StoreError
from crossdock.observability.logging import get_logger
from crossdock.observability.metrics import CONTENT_TYPE, HubMetrics, render_metrics

__all__ = ["health_router", "store_reachable"]


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.api.health")


def store_reachable(store: Store) -> ReadinessProbe:
    """A readiness probe that only checks the store answers a read (no schema check)."""

    async def probe() -> Readiness:
        try:
            await store.queue_depth()
        except (StoreError, OSError) as exc:
            return Readiness(False, (f"store unreachable: {exc}",))
        return Readiness(True)

    return probe


def health_router(
    store: Store, *, metrics: HubMetrics | None = None, readiness: ReadinessProbe | None = None
) -> APIRouter:
    """Build the health router.

    Args:
        store: Sampled for queue depths on each scrape.
        metrics: The hub's metrics, rendered by ``/metrics`` (a fresh set when None).
        readiness: Decides ``/readyz`` (default: `store_reachable`).
    """
    hub_metrics = metrics or HubMetrics()
    probe = readiness or store_reachable(store)
    known: set[str] = set()
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "alive"})

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            answer = await probe()
        except Exception as exc:  # a probe that breaks means "not ready", never a 500
            answer = Readiness(False, (f"readiness probe failed: {exc}",))
        body = {
            "status": "ready" if answer.ready else "not_ready",
            "reasons": list(answer.reasons),
            **{str(k): v for k, v in answer.detail.items()},
        }
        return JSONResponse(body, status_code=200 if answer.ready else 503)

    @router.get("/metrics")
    async def metrics_endpoint() -> Response:
        try:
            depths = await store.queue_depth()
            inbox = await store.inbox_counts()
        except (StoreError, OSError) as exc:
            _log().warning("queue depth and inbox not sampled", error=str(exc))
        else:
            hub_metrics.set_queue_depth(depths, known)
            known.update(depths)
            hub_metrics.set_inbox_counts(inbox)
        return Response(render_metrics(hub_metrics), media_type=CONTENT_TYPE)

    return router
