"""One rate budget object for a shop that routes each call to the right Shopify quota.

The connector kit gives a connector one `RateBudget`, but Shopify meters REST and GraphQL
separately: REST with a leaky bucket (``X-Shopify-Shop-Api-Call-Limit: 32/40``), GraphQL with a
cost bucket (``extensions.cost.throttleStatus``). `ShopifyBudget` holds both and picks one per
call from a context variable that `ShopifyConnector` sets around each call (`use_api`); the
context variable follows the calling task, so concurrent workers never mix them up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from crossdock.runtime.clock import Clock, SystemClock
from crossdock.runtime.resilience import CostBucket, Feedback, LeakyBucket, Permit

__all__ = ["Api", "ShopifyBudget", "use_api"]

Api = Literal["rest", "graphql"]
_API: ContextVar[Api] = ContextVar("crossdock_shopify_api", default="rest")


@contextmanager
def use_api(api: Api) -> Iterator[None]:
    """Route the budget calls made inside the block to `api`'s quota."""
    token = _API.set(api)
    try:
        yield
    finally:
        _API.reset(token)


class ShopifyBudget:
    """The REST leaky bucket and the GraphQL cost bucket of one shop, behind one `RateBudget`.

    Args:
        name: the destination, e.g. ``shopify:acme``.
        rest: the REST bucket (default: 40 calls leaking 2 per second).
        graphql: the GraphQL bucket (default: 1000 points restoring 100 per second; it adapts
            to the shop's plan from the first response).
        clock: the clock.
    """

    def __init__(
        self,
        name: str,
        *,
        rest: LeakyBucket | None = None,
        graphql: CostBucket | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        clock = clock or SystemClock()
        self.rest = rest or LeakyBucket(f"{name}:rest", clock=clock)
        self.graphql = graphql or CostBucket(f"{name}:graphql", clock=clock)

    def __repr__(self) -> str:
        return f"ShopifyBudget({self.name!r})"

    def _current(self) -> LeakyBucket | CostBucket:
        return self.graphql if _API.get() == "graphql" else self.rest

    @property
    def wants_body(self) -> bool:
        """Whether the current call's budget needs the decoded body (GraphQL cost does)."""
        return _API.get() == "graphql"

    async def acquire(self, cost: float = 1.0) -> Permit:
        """Take a permit from the current call's bucket."""
        return await self._current().acquire(cost)

    def release(self, permit: Permit, feedback: Feedback) -> None:
        """Give the permit back to the current call's bucket with what the response said."""
        self._current().release(permit, feedback)

    def wait_time(self, cost: float = 1.0) -> float:
        """Seconds until the current call's bucket allows a call of `cost`."""
        return self._current().wait_time(cost)
