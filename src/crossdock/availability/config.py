"""Availability settings from the governance file, plus what it has no keys for yet."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from crossdock.availability.model import AvailabilitySettings
from crossdock.governance import Governance
from crossdock.governance.systems import ROLE_KINDS, Role

__all__ = ["DEFAULT_DOMAIN", "settings_from_governance"]

DEFAULT_DOMAIN: Final = "inventory_availability"


def settings_from_governance(
    governance: Governance,
    *,
    domain: str = DEFAULT_DOMAIN,
    safety_stock: Mapping[str, int] | None = None,
    channel_buffers: Mapping[str, int] | None = None,
) -> AvailabilitySettings:
    """Build the read model's settings from `governance`.

    The latency target is the domain's (60 s when the file has no such domain). Channel
    systems (Shopify, Salesforce) are ignored sources: their stock reports are echoes of the
    hub's own writes: their names and kinds are ignored (a channel connector names its events'
    source after its kind, ``shopify:<shop domain>``). ERP systems are named as such. Safety
    stock and channel buffers have no keys in the governance file yet, so they are passed here.

    Args:
        governance: The loaded governance file.
        domain: The ``[domains.<name>]`` table that holds the latency target.
        safety_stock: Units kept back per SKU (``"*"``: every other SKU).
        channel_buffers: Units kept back per channel (``"*"``: every other channel).
    """
    found = governance.domains.get(domain)
    channels = ROLE_KINDS[Role.CHANNEL]
    erps = ROLE_KINDS[Role.ERP]
    active = {name: s for name, s in governance.systems.items() if s.active}
    return AvailabilitySettings(
        latency_target=found.latency_target if found is not None else timedelta(seconds=60),
        safety_stock=dict(safety_stock or {}),
        channel_buffers=dict(channel_buffers or {}),
        ignored_sources=frozenset(
            name for n, s in active.items() if s.kind in channels for name in (n, str(s.kind))
        ),
        erp_sources=frozenset(n for n, s in active.items() if s.kind in erps),
    )
