"""The ingress's own metric, on the hub's registry (created once per registry)."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter

_refused: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def refused_counter(registry: CollectorRegistry) -> Counter:
    """``crossdock_ingress_refused_total{system, reason}``: deliveries answered without a 2xx.

    Reasons: ``unknown_system``, ``body_too_large``, ``invalid_signature``, ``store_unavailable``.
    """
    counter = _refused.get(registry)
    if counter is None:
        counter = Counter(
            "crossdock_ingress_refused",
            "Deliveries refused by the ingress (nothing acknowledged), by system and reason.",
            ["system", "reason"],
            registry=registry,
        )
        _refused[registry] = counter
    return counter
