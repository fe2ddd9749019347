"""How a handler tells a worker what became of a command: by the class of what it raises.

A handler that returns has succeeded. One that raises `RetryableError` is retried with backoff
(honouring its `retry_after`); one that raises `PermanentError` becomes a dead letter with its
reason. Any other exception is a bug or an unforeseen failure: the worker treats it as
retryable, with a traceback summary as the error, and goes on.
"""

from __future__ import annotations

__all__ = ["HandlerError", "PermanentError", "RetryableError"]


class HandlerError(Exception):
    """Base class of the failures a handler raises on purpose."""


class RetryableError(HandlerError):
    """A failure that may succeed later (timeout, 5xx, rate limit, lock)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        """Create the error.

        Args:
            message: what went wrong, kept with the attempt.
            retry_after: seconds the remote system asked to wait before trying again.
        """
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class PermanentError(HandlerError):
    """A failure no retry will fix (validation, 4xx, unknown record): dead-letter it."""

    def __init__(self, reason: str, *, detail: str | None = None) -> None:
        """Create the error.

        Args:
            reason: a short reason an operator reads in the dead-letter list.
            detail: more context, kept with the attempt's error.
        """
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
