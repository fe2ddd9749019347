"""The experience layer's HTTP API: webhook ingress, health, metrics and the order timeline.

Build it with `create_app(store, systems, ...)`; the systems are `InboundSystem` adapters the
composition root (`crossdock.hub`) makes from the configured connectors.
"""

from crossdock.api.app import create_app
from crossdock.api.correlation import (
    CORRELATION_HEADER,
    CorrelationIdMiddleware,
    correlation_id_of,
)
from crossdock.api.health import health_router, store_reachable
from crossdock.api.ingress import BodyTooLarge, IngressSettings, ingress_router, read_limited
from crossdock.api.ports import InboundSystem, Readiness, ReadinessProbe
from crossdock.api.timeline import order_timeline, timeline_router

__all__ = [
    "CORRELATION_HEADER",
    "BodyTooLarge",
    "CorrelationIdMiddleware",
    "InboundSystem",
    "IngressSettings",
    "Readiness",
    "ReadinessProbe",
    "correlation_id_of",
    "create_app",
    "health_router",
    "ingress_router",
    "order_timeline",
    "read_limited",
    "store_reachable",
    "timeline_router",
]
