"""Prometheus metrics on a registry of our own, rendered as exposition text."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from crossdock.observability.metrics import CONTENT_TYPE, HubMetrics, render_metrics


def _samples(metrics: HubMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render_metrics(metrics).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_each_hub_metrics_has_its_own_registry() -> None:
    a, b = HubMetrics(), HubMetrics()
    a.record_inbox("shopify", new=True)
    assert a.registry is not b.registry
    assert (
        _samples(a)[("crossdock_inbox_records_total", (("outcome", "new"), ("source", "shopify")))]
        == 1
    )
    assert (
        "crossdock_inbox_records_total",
        (("outcome", "new"), ("source", "shopify")),
    ) not in _samples(b)


def test_a_given_registry_is_used() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    metrics.record_attempt("erp", "completed")
    assert render_metrics(registry) == render_metrics(metrics)


def test_inbox_new_and_duplicate_are_told_apart() -> None:
    m = HubMetrics()
    m.record_inbox("shopify", new=True)
    m.record_inbox("shopify", new=True)
    m.record_inbox("shopify", new=False)
    s = _samples(m)
    assert s[("crossdock_inbox_records_total", (("outcome", "new"), ("source", "shopify")))] == 2
    assert (
        s[("crossdock_inbox_records_total", (("outcome", "duplicate"), ("source", "shopify")))] == 1
    )


def test_dead_outcome_counts_a_dead_letter_and_lease_lost_counts_an_attempt() -> None:
    m = HubMetrics()
    m.record_attempt("erp", "retry")
    m.record_attempt("erp", "dead")
    m.record_lease_lost("erp", "complete")
    s = _samples(m)
    assert s[("crossdock_dead_letters_total", (("destination", "erp"),))] == 1
    assert (
        s[("crossdock_command_attempts_total", (("destination", "erp"), ("outcome", "retry")))] == 1
    )
    assert (
        s[("crossdock_command_attempts_total", (("destination", "erp"), ("outcome", "lease_lost")))]
        == 1
    )
    assert (
        s[("crossdock_lease_lost_total", (("destination", "erp"), ("operation", "complete")))] == 1
    )


def test_queue_depth_resets_destinations_that_emptied() -> None:
    m = HubMetrics()
    m.set_queue_depth({"erp": 5, "wms": 2})
    m.set_queue_depth({"erp": 3}, known={"erp", "wms"})
    s = _samples(m)
    assert s[("crossdock_queue_depth", (("destination", "erp"),))] == 3
    assert s[("crossdock_queue_depth", (("destination", "wms"),))] == 0


def test_latency_histograms() -> None:
    m = HubMetrics()
    m.observe_handler("erp", "completed", 0.02)
    m.observe_command("erp", 1.5)
    m.observe_command("erp", -1.0)  # clock skew between hosts: clamped, never negative
    s = _samples(m)
    assert (
        s[
            (
                "crossdock_handler_latency_seconds_count",
                (("destination", "erp"), ("outcome", "completed")),
            )
        ]
        == 1
    )
    assert s[("crossdock_command_latency_seconds_count", (("destination", "erp"),))] == 2
    assert s[("crossdock_command_latency_seconds_sum", (("destination", "erp"),))] == 1.5


def test_exposition_content_type() -> None:
    assert CONTENT_TYPE.startswith("text/plain")
