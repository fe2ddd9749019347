"""The HTTP API's app factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI

from crossdock.__about__ import __version__
from crossdock.api.availability import AvailabilityFastPath, availability_router
from crossdock.api.correlation import CorrelationIdMiddleware
from crossdock.api.health import health_router
from crossdock.api.ingress import IngressSettings, ingress_router
from crossdock.api.ports import InboundSystem, ReadinessProbe
from crossdock.api.timeline import timeline_router
from crossdock.availability import AvailabilityReadModel
from crossdock.backbone.store import Store
from crossdock.observability.metrics import HubMetrics

__all__ = ["create_app"]


def create_app(
    store: Store,
    systems: Mapping[str, InboundSystem],
    *,
    metrics: HubMetrics | None = None,
    readiness: ReadinessProbe | None = None,
    ingress: IngressSettings | None = None,
    on_recorded: Callable[[], None] | None = None,
    availability: AvailabilityReadModel | None = None,
) -> FastAPI:
    """Build the hub's HTTP API: ingress, health, metrics and the order timeline.

    Args:
        store: The started store (the caller opens and closes it).
        systems: The configured systems with an inbound side, by name (``/hooks/{name}``).
        metrics: The hub's metrics (``/metrics`` renders them; the ingress counts into them).
        readiness: Decides ``/readyz`` (default: the store answers a read).
        ingress: The body limit and ``Retry-After`` of the ingress.
        on_recorded: Called after each new delivery is stored (wakes the decode worker).
        availability: The availability read model served at ``/v1/availability`` (no route
            without it).

    Returns:
        The ASGI app; every response carries ``X-Correlation-Id``.
    """
    hub_metrics = metrics or HubMetrics()
    app = FastAPI(title="Crossdock", version=__version__, docs_url=None, redoc_url=None)
    app.add_middleware(CorrelationIdMiddleware)
    app.include_router(
        ingress_router(
            store, systems, metrics=hub_metrics, settings=ingress, on_recorded=on_recorded
        )
    )
    app.include_router(health_router(store, metrics=hub_metrics, readiness=readiness))
    app.include_router(timeline_router(store, list(systems)))
    if availability is not None:
        app.include_router(availability_router(availability))
        app.add_middleware(AvailabilityFastPath, model=availability)
    return app
