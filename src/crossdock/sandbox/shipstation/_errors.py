"""ShipStation V1's error bodies: ASP.NET Web API shapes (``Message`` and ``ModelState``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from crossdock.sandbox.kit import json_response

UNAUTHORIZED = "Authorization has been denied for this request."
INVALID = "The request is invalid."
TOO_MANY = "Too Many Requests"

_MESSAGES = {
    400: INVALID,
    401: UNAUTHORIZED,
    403: "Forbidden",
    404: "Not Found",
    405: "The requested resource does not support this HTTP method.",
    429: TOO_MANY,
    500: "An error has occurred.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class ShipStationError(Exception):
    """A refusal in ShipStation's own shape; the routes turn it into the response.

    Attributes:
        status: The HTTP status.
        body: The JSON body.
    """

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = dict(body)

    def response(self) -> Response:
        """The error as a response."""
        return json_response(self.body, self.status)


def message_body(status: int, message: str | None = None) -> dict[str, Any]:
    """``{"Message": ...}``, the plain Web API error."""
    return {"Message": message or _MESSAGES.get(status, "An error has occurred.")}


def invalid(model_state: Mapping[str, list[str]]) -> ShipStationError:
    """A 400 with per-field messages, as model validation answers."""
    return ShipStationError(400, {"Message": INVALID, "ModelState": dict(model_state)})


def not_found(message: str) -> ShipStationError:
    """A 404 naming what was not found."""
    return ShipStationError(404, message_body(404, message))


def error_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """The response ShipStation gives for ``status`` with no more specific body."""
    body: dict[str, Any] = message_body(status)
    if status == 500:
        body |= {"ExceptionMessage": "Injected failure", "ExceptionType": "System.Exception"}
    return json_response(body, status, headers)
