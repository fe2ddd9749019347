"""ShipStation V1's error table and the decode failure.

ShipStation answers errors in ASP.NET Web API shapes (``{"Message": ...}``, with ``ModelState``
for a 400) and carries no error codes, so the table goes by status:

| status | outcome | why |
|---|---|---|
| 401 | auth | the API key pair was refused (Basic auth cannot be refreshed: fix, then replay) |
| 404 | permanent | no such order, shipment or batch |
| 400 | permanent | validation failed; the body (``ModelState``) is kept as the detail |
| 429 | rate limited | the 40-per-minute window is used up; wait ``X-Rate-Limit-Reset`` seconds |
| 500, 502, 503 | retry | ShipStation is failing or down |
| 504, timeout after sending | ambiguous | every call here is idempotent: resent safely |
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from crossdock.connectorkit import DEFAULT_ERROR_TABLE, ErrorTable, Outcome, Rule
from crossdock.connectorkit.http import HttpResponse
from crossdock.runtime.errors import PermanentError
from crossdock.runtime.resilience import header, parse_retry_after

__all__ = ["SHIPSTATION_ERROR_TABLE", "DecodeError", "rate_limit_reset"]


class DecodeError(PermanentError):
    """A delivery that cannot become canonical events: keep it and dead-letter it with `reason`."""


def rate_limit_reset(response: HttpResponse) -> float | None:
    """Seconds to wait: ``X-Rate-Limit-Reset`` (ShipStation's), else a ``Retry-After``."""
    value = header(response.headers, "X-Rate-Limit-Reset")
    if value is not None:
        try:
            seconds = float(value.strip())
        except ValueError:
            seconds = -1.0
        if seconds >= 0:
            return seconds
    return parse_retry_after(header(response.headers, "Retry-After"), datetime.now(UTC))


SHIPSTATION_ERROR_TABLE: Final[ErrorTable] = DEFAULT_ERROR_TABLE.extend(
    Rule(
        Outcome.RATE_LIMITED,
        status=429,
        reason="ShipStation quota used up (requests per minute per key pair)",
        retry_after=rate_limit_reset,
    ),
    Rule(Outcome.AUTH, status=401, reason="ShipStation refused the API key pair (401)"),
    Rule(Outcome.PERMANENT, status=404, reason="not found in ShipStation (404)"),
    Rule(Outcome.PERMANENT, status=400, reason="ShipStation rejected the request (400)"),
    Rule(Outcome.RETRY, status={500, 502, 503}, reason="ShipStation server error"),
)
"""401 auth, 404 and 400 permanent (body kept), 429 rate limited after X-Rate-Limit-Reset,
500/502/503 retried; the kit's defaults handle the rest (504 and timeouts are ambiguous)."""
