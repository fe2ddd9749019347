"""Resilience for outbound work: rate budgets and circuit breakers, one per destination.

In-process budgets (`LeakyBucket`, `CostBucket`, `ConcurrencySlots`, `WindowBudget`,
`DailyAllocation`) are shared by every worker of a process; `budget_from_config` builds them
from `crossdock.toml`. Budgets and breaker state shared by several processes live in
`crossdock.runtime.resilience.postgres` (needs the ``postgres`` extra); `StoreBreakerStateStore`
keeps breaker state in the backbone store, where every worker and the console see it.
"""

from crossdock.runtime.resilience._headers import header, parse_retry_after
from crossdock.runtime.resilience.breaker import (
    BreakerConfig,
    BreakerHooks,
    BreakerOpenError,
    BreakerRecord,
    BreakerState,
    BreakerStateStore,
    CircuitBreaker,
    InMemoryBreakerStateStore,
    Ticket,
)
from crossdock.runtime.resilience.budget import (
    BudgetBase,
    Feedback,
    Permit,
    RateBudget,
    Unlimited,
)
from crossdock.runtime.resilience.config import breaker_config_from, budget_from_config
from crossdock.runtime.resilience.cost import CostBucket
from crossdock.runtime.resilience.leaky import LeakyBucket
from crossdock.runtime.resilience.slots import ConcurrencySlots
from crossdock.runtime.resilience.store_state import StoreBreakerStateStore
from crossdock.runtime.resilience.window import DailyAllocation, WindowBudget

__all__ = [
    "BreakerConfig",
    "BreakerHooks",
    "BreakerOpenError",
    "BreakerRecord",
    "BreakerState",
    "BreakerStateStore",
    "BudgetBase",
    "CircuitBreaker",
    "ConcurrencySlots",
    "CostBucket",
    "DailyAllocation",
    "Feedback",
    "InMemoryBreakerStateStore",
    "LeakyBucket",
    "Permit",
    "RateBudget",
    "StoreBreakerStateStore",
    "Ticket",
    "Unlimited",
    "WindowBudget",
    "breaker_config_from",
    "budget_from_config",
    "header",
    "parse_retry_after",
]
