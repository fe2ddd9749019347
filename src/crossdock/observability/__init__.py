"""Observability: structured logging with correlation ids and secret redaction; metrics."""

from crossdock.observability.logging import (
    bind_unit_of_work,
    configure_logging,
    get_logger,
    register_secret,
)
from crossdock.observability.metrics import HubMetrics, render_metrics

__all__ = [
    "HubMetrics",
    "bind_unit_of_work",
    "configure_logging",
    "get_logger",
    "register_secret",
    "render_metrics",
]
