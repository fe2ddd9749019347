"""NetSuite's error table and the reading of its error bodies.

Errors arrive as ``application/vnd.oracle.resource+json; type=error`` with
``{type, title, status, "o:errorDetails": [{detail, "o:errorCode", "o:errorPath"?}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from crossdock.connectorkit import DEFAULT_ERROR_TABLE, ErrorTable, Outcome, Rule
from crossdock.connectorkit.http import HttpResponse
from crossdock.runtime.resilience import header, parse_retry_after

__all__ = [
    "ASYNC_TABLE",
    "CONCURRENCY_BACKOFF_S",
    "LOOKUP_TABLE",
    "NETSUITE_ERROR_TABLE",
    "RESULT_TABLE",
    "describe_error",
    "error_details",
]

CONCURRENCY_BACKOFF_S: Final = 1.0
"""How long to wait after a 429 that names no Retry-After (NetSuite documents none)."""


def _retry_after_or_backoff(response: HttpResponse) -> float:
    stated = parse_retry_after(header(response.headers, "Retry-After"), datetime.now(UTC))
    return stated if stated is not None else CONCURRENCY_BACKOFF_S


NETSUITE_ERROR_TABLE: Final[ErrorTable] = DEFAULT_ERROR_TABLE.extend(
    Rule(Outcome.AUTH, status=401, reason="INVALID_LOGIN: token-based auth refused"),
    Rule(
        Outcome.RATE_LIMITED,
        status=429,
        reason="NetSuite concurrency limit exceeded (429)",
        retry_after=_retry_after_or_backoff,
    ),
    Rule(
        Outcome.RATE_LIMITED,
        codes={"SSS_REQUEST_LIMIT_EXCEEDED", "WS_REQUEST_BLOCKED", "CONCURRENCY_LIMIT_EXCEEDED"},
        reason="NetSuite concurrency limit exceeded",
    ),
    Rule(
        Outcome.CONFLICT,
        codes={"IDEMPOTENCY_ERROR"},
        reason="async request already submitted under this idempotency key",
    ),
    Rule(Outcome.PERMANENT, status=404, codes={"NONEXISTENT_ID"}, reason="NONEXISTENT_ID"),
    Rule(Outcome.PERMANENT, codes={"USER_ERROR"}, reason="USER_ERROR"),
    Rule(Outcome.PERMANENT, codes={"INVALID_VALUE"}, reason="INVALID_VALUE"),
    Rule(Outcome.PERMANENT, codes={"INVALID_CONTENT"}, reason="INVALID_CONTENT"),
    Rule(Outcome.PERMANENT, codes={"INVALID_PARAMETER"}, reason="INVALID_PARAMETER"),
)
"""INVALID_LOGIN (401) auth (re-signed once, then dead-lettered); 429 rate-limited;
IDEMPOTENCY_ERROR conflict (settle through the original job); NONEXISTENT_ID, USER_ERROR,
INVALID_VALUE, INVALID_CONTENT, INVALID_PARAMETER permanent with NetSuite's detail; 5xx retry."""

LOOKUP_TABLE: Final[ErrorTable] = NETSUITE_ERROR_TABLE.extend(
    Rule(Outcome.OK, status=404, codes={"NONEXISTENT_ID"}, reason="not there (a lookup)"),
)
"""For lookups by external id: NONEXISTENT_ID is an answer (absent), not a failure."""


ASYNC_TABLE: Final[ErrorTable] = NETSUITE_ERROR_TABLE.extend(
    Rule(Outcome.OK, codes={"IDEMPOTENCY_ERROR"}, reason="already submitted: the original job"),
)
"""For async submissions: a repeated idempotency key answers with the original job."""

RESULT_TABLE: Final[ErrorTable] = ErrorTable(
    [
        *(rule for rule in NETSUITE_ERROR_TABLE.rules if rule.exception is not None),
        Rule(Outcome.AUTH, status=401, reason="INVALID_LOGIN: token-based auth refused"),
        Rule(
            Outcome.RATE_LIMITED,
            status=429,
            reason="NetSuite concurrency limit exceeded",
            retry_after=_retry_after_or_backoff,
        ),
        Rule(Outcome.OK, status=range(200, 600), reason="an async job's recorded answer"),
    ]
)
"""For an async job's result: whatever the job answered is the answer, not a failure of the
call that fetched it (read its status)."""


def error_details(body: Any) -> list[Mapping[str, Any]]:
    """The ``o:errorDetails`` entries of a decoded error body (empty when there are none)."""
    if not isinstance(body, Mapping):
        return []
    details = body.get("o:errorDetails")
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def describe_error(body: Any) -> str:
    """``CODE: detail (at path)`` for each error detail, joined by ``; ``."""
    parts = []
    for detail in error_details(body):
        text = f"{detail.get('o:errorCode', '?')}: {detail.get('detail', '')}"
        if detail.get("o:errorPath"):
            text += f" (at {detail['o:errorPath']})"
        parts.append(text)
    return "; ".join(parts)
