"""Salesforce's error table: the JSON-array ``errorCode`` (``statusCode`` in collections)
decides, then the status.

| code / status                         | outcome                                   |
|---------------------------------------|-------------------------------------------|
| 401 INVALID_SESSION_ID                | auth: fetch a new token, retry once       |
| 403 REQUEST_LIMIT_EXCEEDED            | rate-limited: wait, never a failure       |
| UNABLE_TO_LOCK_ROW, SERVER_UNAVAILABLE| retry                                     |
| 300 (several records match)           | conflict: settle by lookup                |
| validation codes (400)                | permanent: dead-letter with the reason    |
| 404 NOT_FOUND                         | permanent                                 |
"""

from __future__ import annotations

from typing import Final

from crossdock.connectorkit import DEFAULT_ERROR_TABLE, ErrorTable, Outcome, Rule
from crossdock.connectorkit.http import HttpResponse

__all__ = ["DAILY_LIMIT_RECHECK_S", "SALESFORCE_ERROR_TABLE", "VALIDATION_CODES"]

DAILY_LIMIT_RECHECK_S: Final = 300.0
"""Seconds to wait before trying again when the org's daily allocation is used up."""

VALIDATION_CODES: Final = frozenset(
    {
        "REQUIRED_FIELD_MISSING",
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "DUPLICATE_VALUE",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "FIELD_INTEGRITY_EXCEPTION",
        "MALFORMED_ID",
        "JSON_PARSER_ERROR",
        "INVALID_CROSS_REFERENCE_KEY",
        "INVALID_EMAIL_ADDRESS",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "STANDARD_PRICE_NOT_DEFINED",
        "MALFORMED_QUERY",
        "INVALID_TYPE",
    }
)


def _daily_recheck(_: HttpResponse) -> float:
    return DAILY_LIMIT_RECHECK_S


SALESFORCE_ERROR_TABLE: Final[ErrorTable] = DEFAULT_ERROR_TABLE.extend(
    Rule(Outcome.AUTH, status=401, reason="Salesforce session expired or invalid"),
    Rule(
        Outcome.RATE_LIMITED,
        status=range(400, 600),
        codes={"REQUEST_LIMIT_EXCEEDED"},
        reason="Salesforce daily API allocation used up",
        retry_after=_daily_recheck,
    ),
    Rule(
        Outcome.RETRY,
        status=range(400, 600),
        codes={"UNABLE_TO_LOCK_ROW"},
        reason="record locked, retry",
    ),
    Rule(Outcome.CONFLICT, status=300, reason="several records match the external id"),
    Rule(Outcome.PERMANENT, status=range(400, 500), codes=VALIDATION_CODES),
    Rule(Outcome.PERMANENT, status=404, reason="not found in Salesforce"),
)
"""The Salesforce table; every other status falls through to `DEFAULT_ERROR_TABLE`."""
