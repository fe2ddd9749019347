"""Resilience for outbound work: rate budgets and circuit breakers, one per destination."""

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
from crossdock.runtime.resilience.cost import CostBucket
from crossdock.runtime.resilience.leaky import LeakyBucket
from crossdock.runtime.resilience.slots import ConcurrencySlots
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
    "Ticket",
    "Unlimited",
    "WindowBudget",
    "header",
    "parse_retry_after",
]
