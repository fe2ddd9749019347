"""The account's concurrency slots, one budget per account shared by the whole process."""

from __future__ import annotations

import asyncio

from crossdock.runtime.resilience import ConcurrencySlots

__all__ = ["DEFAULT_CONCURRENCY", "shared_slots"]

DEFAULT_CONCURRENCY = 15
"""Tier 1: 15 concurrent requests per account (plus 10 per SuiteCloud Plus licence)."""

_budgets: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, ConcurrencySlots]] = {}


def shared_slots(realm: str, limit: int = DEFAULT_CONCURRENCY) -> ConcurrencySlots:
    """The process's one `ConcurrencySlots` for account ``realm`` (per event loop).

    Every connector instance of the account draws from it, since NetSuite counts concurrency
    per account across SOAP, REST and RESTlets. A later call with another ``limit`` resizes it.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # built outside a loop: nothing to share it with yet
        return ConcurrencySlots(f"netsuite:{realm}", limit=limit)
    for key in [k for k, (other, _) in _budgets.items() if other.is_closed()]:
        del _budgets[key]
    key = (realm, id(loop))
    found = _budgets.get(key)
    if found is None or found[0] is not loop:
        budget = ConcurrencySlots(f"netsuite:{realm}", limit=limit)
        _budgets[key] = (loop, budget)
        return budget
    budget = found[1]
    if budget.limit != limit:
        budget.resize(limit)
    return budget
