"""Business Central's error table: ``{"error": {"code", "message"}}`` by code and status.

| what BC answers                                   | outcome                                   |
|---------------------------------------------------|-------------------------------------------|
| 429 (``Application_TooManyRequests``)             | rate-limited, honouring ``Retry-After``   |
| 401, any ``Authentication_*``                     | auth: fetch a new token, retry once       |
| ``Request_EntityChanged`` (409, or 412 on older)  | conflict: re-read the entity, re-apply    |
| ``Internal_EntityWithSameKeyExists``              | conflict: settle by a lookup              |
| 408, 504                                          | ambiguous: settle before resending        |
| other 5xx                                         | retry with backoff                        |
| ``BadRequest*``, ``Application_*``,               | permanent (dead letter)                   |
| ``Authorization_*``, ``Internal_RecordNotFound``  |                                           |
"""

from __future__ import annotations

from typing import Final

from crossdock.connectorkit import (
    DEFAULT_ERROR_TABLE,
    ConflictError,
    ErrorTable,
    Outcome,
    Rule,
)

ENTITY_CHANGED: Final = "Request_EntityChanged"
SAME_KEY_EXISTS: Final = "Internal_EntityWithSameKeyExists"
NOT_FOUND: Final = "Internal_RecordNotFound"

BC_ERROR_TABLE: Final[ErrorTable] = DEFAULT_ERROR_TABLE.extend(
    # 429 first: its code (Application_TooManyRequests) would otherwise read as permanent.
    Rule(Outcome.RATE_LIMITED, status=429, reason="Business Central throttled the call (429)"),
    Rule(Outcome.AUTH, status=401, reason="Business Central refused the token (401)"),
    Rule(Outcome.AUTH, codes={"Authentication_*"}, reason="Business Central refused the token"),
    Rule(Outcome.CONFLICT, codes={ENTITY_CHANGED}, reason="stale ETag: the record changed"),
    Rule(Outcome.CONFLICT, codes={SAME_KEY_EXISTS}, reason="a record with that key exists"),
    Rule(Outcome.AMBIGUOUS, status={408, 504}, reason="Business Central timed out (408/504)"),
    Rule(Outcome.RETRY, status=range(500, 600), reason="Business Central server error"),
    Rule(
        Outcome.PERMANENT,
        codes={"BadRequest*", "Application_*", "Authorization_*", "Internal_RecordNotFound"},
        reason="Business Central refused the request",
    ),
)
"""The classification table of every Business Central call."""


def has_code(error: ConflictError, code: str) -> bool:
    """Whether a classified conflict carried the BC error ``code``."""
    return error.classification is not None and code in error.classification.codes
