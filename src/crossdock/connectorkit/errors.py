"""The classified exceptions a connector raises; workers act on their base classes.

`RetryableError` (from `crossdock.runtime.errors`) makes the worker retry with backoff, honouring
`retry_after`; `PermanentError` sends the command to the dead-letter list with its reason.

| outcome       | exception                  | base            |
|---------------|----------------------------|-----------------|
| retry         | `RetryLaterError`          | RetryableError  |
| rate_limited  | `RateLimitedError`         | RetryableError  |
| conflict      | `ConflictError`            | RetryableError  |
| permanent     | `PermanentFailureError`    | PermanentError  |
| auth          | `AuthFailedError`          | PermanentError  |
| ambiguous     | `AmbiguousOutcomeError`    | HandlerError (settled inside `Connector.perform`) |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossdock.runtime.errors import HandlerError, PermanentError, RetryableError

if TYPE_CHECKING:
    from crossdock.connectorkit.classify import Classification


class RetryLaterError(RetryableError):
    """A transient failure (5xx, connection refused, open circuit): retry with backoff.

    Attributes:
        classification: What the error table decided, when a table decided it.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        classification: Classification | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.classification = classification


class RateLimitedError(RetryLaterError):
    """The system refused for its rate limit; `retry_after` says how long it asked to wait."""


class ConflictError(RetryLaterError):
    """The write conflicts with the system's current state (stale ETag, duplicate key).

    A handler settles it by a lookup (read the record, compare, then update or accept); if it
    escapes the handler, the worker retries, and the next attempt reads the state afresh.
    """


class PermanentFailureError(PermanentError):
    """No retry will fix this (validation, not found, forbidden): dead-letter it.

    Attributes:
        classification: What the error table decided, when a table decided it.
    """

    def __init__(
        self,
        reason: str,
        *,
        detail: str | None = None,
        classification: Classification | None = None,
    ) -> None:
        super().__init__(reason, detail=detail)
        self.classification = classification


class AuthFailedError(PermanentFailureError):
    """Credentials were refused even after a refresh: an operator must fix them, then replay."""


class AmbiguousOutcomeError(HandlerError):
    """A non-idempotent call may or may not have had its effect (timeout after sending).

    `Connector.perform` settles it through `settle_ambiguous`; it is never resent blindly.
    """

    def __init__(self, message: str, *, classification: Classification | None = None) -> None:
        super().__init__(message)
        self.classification = classification
