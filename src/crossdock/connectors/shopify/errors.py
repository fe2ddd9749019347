"""Shopify's error table: HTTP statuses, GraphQL top-level errors and mutation userErrors.

| what                                             | outcome       |
|--------------------------------------------------|---------------|
| 401, 403 (token refused, scope missing)          | auth          |
| 404                                              | permanent     |
| 422 (``{"errors": ...}``)                        | permanent     |
| 423 (shop locked)                                | retry         |
| 429 + ``Retry-After: 2.0``                       | rate limited  |
| GraphQL ``THROTTLED`` (HTTP 200 or 429)          | rate limited, wait from ``throttleStatus`` |
| GraphQL ``ACCESS_DENIED``                        | auth          |
| GraphQL ``INTERNAL_SERVER_ERROR``                | retry         |
| GraphQL errors without data (query invalid)      | permanent     |
| 504, timeout after sending                       | ambiguous (settled, never resent blindly) |
| other 5xx                                        | retry         |

Mutation ``userErrors`` arrive with HTTP 200 and data; the handlers read them and classify them
with `USER_ERROR_OUTCOMES` (a stale compare is settled by the handler, not by the table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from crossdock.connectorkit import DEFAULT_ERROR_TABLE, ErrorTable, Outcome, Rule
from crossdock.connectorkit.http import HttpResponse

__all__ = [
    "SHOPIFY_ERROR_TABLE",
    "USER_ERROR_OUTCOMES",
    "graphql_throttle_wait",
    "is_throttled",
    "throttle_wait",
]

USER_ERROR_OUTCOMES: Mapping[str, Outcome] = {
    "CHANGE_FROM_QUANTITY_STALE": Outcome.CONFLICT,
    "COMPARE_QUANTITY_STALE": Outcome.CONFLICT,
    "IDEMPOTENCY_CONCURRENT_REQUEST": Outcome.RETRY,
    "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": Outcome.PERMANENT,
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": Outcome.PERMANENT,
}
"""Mutation userError codes that are not permanent validation failures (those are the default)."""


def _body(response: HttpResponse) -> Any:
    return response.json_or_none()


def is_throttled(body: Any) -> bool:
    """Whether a GraphQL body is Shopify's ``THROTTLED`` answer (whatever the HTTP status)."""
    if not isinstance(body, Mapping):
        return False
    for error in body.get("errors") or []:
        if isinstance(error, Mapping):
            extensions = error.get("extensions")
            if isinstance(extensions, Mapping) and extensions.get("code") == "THROTTLED":
                return True
            if error.get("message") == "Throttled":
                return True
    return False


def throttle_wait(body: Any) -> float | None:
    """Seconds until the cost bucket holds the requested cost, from ``extensions.cost``."""
    if not isinstance(body, Mapping):
        return None
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus")
    requested = cost.get("requestedQueryCost")
    if not isinstance(status, Mapping) or requested is None:
        return None
    try:
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
        missing = float(requested) - available
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0 or not math.isfinite(missing):
        return None
    return max(0.0, missing / rate)


def graphql_throttle_wait(response: HttpResponse) -> float | None:
    """Read a throttled GraphQL response's wait: ``throttleStatus``, else Retry-After."""
    wait = throttle_wait(_body(response))
    if wait is not None:
        return wait
    return DEFAULT_ERROR_TABLE.retry_after(response)


def _throttled(response: HttpResponse) -> bool:
    return is_throttled(_body(response))


def _graphql_failed(response: HttpResponse) -> bool:
    body = _body(response)
    return (
        isinstance(body, Mapping)
        and bool(body.get("errors"))
        and body.get("data") is None
        and "errors" in body
        and isinstance(body["errors"], list)
    )


SHOPIFY_ERROR_TABLE: ErrorTable = DEFAULT_ERROR_TABLE.extend(
    Rule(
        Outcome.RATE_LIMITED,
        when=_throttled,
        reason="GraphQL cost throttled (THROTTLED)",
        retry_after=graphql_throttle_wait,
    ),
    Rule(Outcome.RATE_LIMITED, status=429, reason="REST rate limited (429)"),
    Rule(Outcome.AUTH, status={401, 403}, reason="access token refused or scope missing"),
    Rule(Outcome.RETRY, status=423, reason="shop locked (423)"),
    Rule(Outcome.PERMANENT, status=422, reason="unprocessable (422)"),
    Rule(Outcome.AUTH, codes={"ACCESS_DENIED"}, reason="GraphQL access denied"),
    Rule(Outcome.RETRY, codes={"INTERNAL_SERVER_ERROR"}, reason="GraphQL internal error"),
    Rule(Outcome.PERMANENT, status=200, when=_graphql_failed, reason="GraphQL request refused"),
)
"""The table `ShopifyConnector` classifies every response with."""
