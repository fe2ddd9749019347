"""Salesforce's error shapes: the JSON array of single-record calls, and collection results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from crossdock.sandbox.kit import SimulatorHTTPError
from crossdock.sandbox.salesforce._json import json_response


class SalesforceError(Exception):
    """One record-level failure: an ``errorCode`` (``statusCode`` in collections) and fields.

    Attributes:
        code: E.g. ``REQUIRED_FIELD_MISSING``.
        message: The human text Salesforce would send.
        fields: The fields concerned.
        status: The HTTP status of a single-record call failing this way.
    """

    def __init__(
        self, code: str, message: str, fields: Sequence[str] = (), *, status: int = 400
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.status = status

    def body(self) -> list[dict[str, Any]]:
        """The single-record error body: ``[{"message", "errorCode", "fields"}]``."""
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]

    def collection_error(self) -> dict[str, Any]:
        """The error inside a collection result: ``{"statusCode", "message", "fields"}``."""
        return {"statusCode": self.code, "message": self.message, "fields": self.fields}

    def response(self) -> Response:
        """The HTTP response of a single-record call."""
        return json_response(self.body(), self.status)

    def http(self) -> SimulatorHTTPError:
        """This error as the exception the simulator base turns into a response."""
        return SimulatorHTTPError(self.response())


def error_array(status: int, code: str, message: str) -> Response:
    """``[{"message", "errorCode"}]`` with ``status`` (no ``fields``, as for 401 and 403)."""
    return json_response([{"message": message, "errorCode": code}], status)


INVALID_SESSION = ("INVALID_SESSION_ID", "Session expired or invalid")
LIMIT_EXCEEDED = ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("JSON_PARSER_ERROR", "The request body could not be parsed."),
    401: INVALID_SESSION,
    403: LIMIT_EXCEEDED,
    404: ("NOT_FOUND", "The requested resource does not exist"),
    405: ("METHOD_NOT_ALLOWED", "HTTP Method not allowed for this resource"),
    409: ("CONFLICT", "The request could not be completed due to a conflict."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Content type not supported."),
    500: ("UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId."),
    502: ("SERVER_UNAVAILABLE", "Bad gateway."),
    503: ("SERVER_UNAVAILABLE", "Server is temporarily unavailable."),
    504: ("SERVER_UNAVAILABLE", "Gateway timeout."),
}
