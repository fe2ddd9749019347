"""Budgets and breakers built from the governance tables of crossdock.toml."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from crossdock.governance.systems import SystemConfig
from crossdock.runtime.resilience import (
    ConcurrencySlots,
    CostBucket,
    DailyAllocation,
    LeakyBucket,
    WindowBudget,
)
from crossdock.runtime.resilience.config import breaker_config_from, budget_from_config


def test_every_budget_kind_of_a_system_table() -> None:
    system = SystemConfig.model_validate(
        {
            "kind": "shopify",
            "base_url": "https://acme.myshopify.com",
            "rate_budgets": {
                "rest": {"kind": "leaky_bucket", "capacity": 40, "leak_per_second": 2},
                "graphql": {"kind": "cost", "capacity": 1000, "restore_per_second": 100},
                "erp": {"kind": "concurrency", "max_in_flight": 15},
                "wms": {"kind": "window", "limit": 40, "window": "60s"},
                "crm": {"kind": "daily", "limit": 15000},
            },
            "breaker": {"failure_threshold": 7, "open_for": "45s"},
        }
    )
    built = {k: budget_from_config(f"acme:{k}", v) for k, v in system.rate_budgets.items()}
    rest = built["rest"]
    assert isinstance(rest, LeakyBucket)
    assert (rest.capacity, rest.leak_rate) == (40, 2)
    assert isinstance(built["graphql"], CostBucket)
    assert isinstance(built["erp"], ConcurrencySlots)
    window = built["wms"]
    assert isinstance(window, WindowBudget)
    assert (window.limit, window.window) == (40, 60)
    assert isinstance(built["crm"], DailyAllocation)
    config = breaker_config_from(system.breaker)
    assert (config.failure_threshold, config.open_seconds) == (7, 45)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        budget_from_config("x", SimpleNamespace(kind="teleport", window=timedelta(seconds=1)))
