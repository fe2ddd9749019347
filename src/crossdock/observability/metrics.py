"""Prometheus metrics of the backbone and its workers, on a registry passed around.

`HubMetrics` owns its metric objects on a `CollectorRegistry` given to it (a fresh one by
default), so tests and several hubs in one process never share counters by accident. Pass
`prometheus_client.REGISTRY` to publish on the process-wide registry instead.

Multiprocess note: with several worker processes (PostgreSQL deployments), each process keeps
its own counters. Either expose one endpoint per process and let Prometheus sum them, or run
with prometheus-client's multiprocess mode (set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory before start, and render with a `MultiProcessCollector` on a fresh registry). The
queue-depth gauge is sampled from the store, so in multiprocess mode it should be published by
one process only (or use ``multiprocess_mode="max"``).
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = [
    "CONTENT_TYPE",
    "HubMetrics",
    "render_metrics",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST

# From a millisecond to ten minutes: handler calls are fast, queued commands may wait long.
_COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600)
_HANDLER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class HubMetrics:
    """The hub's metrics.

    Attributes:
        registry: Where the metrics are registered.
        inbox_records: Counter ``crossdock_inbox_records_total{source, outcome}``, outcome
            ``new`` or ``duplicate``.
        queue_depth: Gauge ``crossdock_queue_depth{destination}``: unfinished commands.
        attempts: Counter ``crossdock_command_attempts_total{destination, outcome}``, outcome
            ``completed``, ``retry``, ``dead``, ``released`` or ``lease_lost``.
        dead_letters: Counter ``crossdock_dead_letters_total{destination}``.
        lease_lost: Counter ``crossdock_lease_lost_total{destination, operation}``: late
            writes the store refused.
        command_latency: Histogram ``crossdock_command_latency_seconds{destination}``, from
            enqueue to completion.
        handler_latency: Histogram ``crossdock_handler_latency_seconds{destination, outcome}``,
            one handler call.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        """Create the metrics on `registry` (a fresh registry when None)."""
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.inbox_records = Counter(
            "crossdock_inbox_records",
            "Deliveries recorded in the inbox, new or duplicate.",
            ["source", "outcome"],
            registry=reg,
        )
        self.queue_depth = Gauge(
            "crossdock_queue_depth",
            "Unfinished (pending or running) commands per destination.",
            ["destination"],
            registry=reg,
        )
        self.inbox_backlog = Gauge(
            "crossdock_inbox_rows",
            "Inbox rows per source and state (received, claimed, decoded, dead).",
            ["source", "state"],
            registry=reg,
        )
        self.attempts = Counter(
            "crossdock_command_attempts",
            "Command attempts by destination and outcome.",
            ["destination", "outcome"],
            registry=reg,
        )
        self.dead_letters = Counter(
            "crossdock_dead_letters",
            "Commands that became dead letters.",
            ["destination"],
            registry=reg,
        )
        self.lease_lost = Counter(
            "crossdock_lease_lost",
            "Late writes refused because another worker took the lease over.",
            ["destination", "operation"],
            registry=reg,
        )
        self.command_latency = Histogram(
            "crossdock_command_latency_seconds",
            "Time from enqueue to completion of a command.",
            ["destination"],
            buckets=_COMMAND_BUCKETS,
            registry=reg,
        )
        self.handler_latency = Histogram(
            "crossdock_handler_latency_seconds",
            "Duration of one handler call.",
            ["destination", "outcome"],
            buckets=_HANDLER_BUCKETS,
            registry=reg,
        )

    def record_inbox(self, source: str, *, new: bool) -> None:
        """Count one inbox record."""
        self.inbox_records.labels(source=source, outcome="new" if new else "duplicate").inc()

    def set_queue_depth(self, depths: Mapping[str, int], known: set[str] | None = None) -> None:
        """Publish queue depths; destinations in `known` but absent from `depths` read 0."""
        for destination in (known or set()) - depths.keys():
            self.queue_depth.labels(destination=destination).set(0)
        for destination, depth in depths.items():
            self.queue_depth.labels(destination=destination).set(depth)

    def set_inbox_counts(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Publish the inbox rows per source and state (as `Store.inbox_counts` returns them)."""
        for source, by_state in counts.items():
            for state, rows in by_state.items():
                self.inbox_backlog.labels(source=source, state=state).set(rows)

    def record_attempt(self, destination: str, outcome: str) -> None:
        """Count one finished attempt (and a dead letter when the outcome is ``dead``)."""
        self.attempts.labels(destination=destination, outcome=outcome).inc()
        if outcome == "dead":
            self.dead_letters.labels(destination=destination).inc()

    def record_lease_lost(self, destination: str, operation: str) -> None:
        """Count one refused late write (and the attempt outcome ``lease_lost``)."""
        self.lease_lost.labels(destination=destination, operation=operation).inc()
        self.attempts.labels(destination=destination, outcome="lease_lost").inc()

    def observe_handler(self, destination: str, outcome: str, seconds: float) -> None:
        """Record the duration of one handler call."""
        self.handler_latency.labels(destination=destination, outcome=outcome).observe(seconds)

    def observe_command(self, destination: str, seconds: float) -> None:
        """Record the time from enqueue to completion of one command."""
        self.command_latency.labels(destination=destination).observe(max(0.0, seconds))


def render_metrics(registry: CollectorRegistry | HubMetrics) -> bytes:
    """Return the Prometheus text exposition of a registry (serve it with `CONTENT_TYPE`)."""
    reg = registry.registry if isinstance(registry, HubMetrics) else registry
    return generate_latest(reg)
