"""What the HTTP seam raises: a request that was never sent, or one whose outcome is unknown.

The seam never raises for an HTTP status; a response of any status is returned, and the
connector's error table classifies it.
"""

from __future__ import annotations


class HttpTransportError(Exception):
    """Base class of the errors the seam raises when no response arrived.

    Attributes:
        method: The HTTP method of the failed request.
        url: The URL of the failed request (never carries credentials: they travel in headers).
    """

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class RequestNotSentError(HttpTransportError):
    """The request never reached the server (DNS, refused, connect timeout, TLS, no deadline left).

    Safe to retry, idempotent or not: the server saw nothing.
    """


class AmbiguousRequestError(HttpTransportError):
    """The request may have reached the server but no complete response arrived.

    The effect may or may not have happened. Settle it by an idempotency key or a status lookup;
    never resend a non-idempotent call blindly.

    Attributes:
        timed_out: True when the deadline expired after the request was (possibly) sent.
    """

    def __init__(self, message: str, *, method: str, url: str, timed_out: bool) -> None:
        super().__init__(message, method=method, url=url)
        self.timed_out = timed_out
