"""NetSuite's REST error shape: ``application/vnd.oracle.resource+json; type=error``."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

from crossdock.sandbox.kit import SimulatorHTTPError
from crossdock.sandbox.netsuite._json import dumps

ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"
RECORD_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=singular-resource"
COLLECTION_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=collection"

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)

_TYPES = {
    400: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
    401: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
    403: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.4",
    404: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.5",
    405: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.6",
    409: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.10",
    429: "https://www.rfc-editor.org/rfc/rfc6585.html#section-4",
    500: "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.1",
}
_CODES = {
    400: "USER_ERROR",
    401: "INVALID_LOGIN",
    403: "INSUFFICIENT_PERMISSION",
    404: "NONEXISTENT_ID",
    405: "INVALID_REQUEST",
    429: "CONCURRENCY_LIMIT_EXCEEDED",
    500: "UNEXPECTED_ERROR",
    502: "UNEXPECTED_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "UNEXPECTED_ERROR",
}


def error_body(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    path: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The body NetSuite sends with an error: ``{type, title, status, o:errorDetails}``."""
    item: dict[str, Any] = {"detail": detail, "o:errorCode": code}
    if path is not None:
        item["o:errorPath"] = path
    item.update(extra or {})
    return {
        "type": _TYPES.get(status, _TYPES[500 if status >= 500 else 400]),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "o:errorDetails": [item],
    }


def error_response(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    path: str | None = None,
    extra: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error response in NetSuite's media type."""
    body = error_body(status, code, detail, title=title, path=path, extra=extra)
    return Response(dumps(body), status, headers=dict(headers or {}), media_type=ERROR_MEDIA_TYPE)


def default_error(status: int) -> Response:
    """The error NetSuite answers for a bare status (injected faults, unknown routes)."""
    code = _CODES.get(status, "UNEXPECTED_ERROR" if status >= 500 else "USER_ERROR")
    return error_response(status, code, f"HTTP {status}: {HTTPStatus(status).phrase}.")


class NetSuiteError(SimulatorHTTPError):
    """Raise to answer with NetSuite's error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        path: str | None = None,
        extra: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            error_response(
                status, code, detail, title=title, path=path, extra=extra, headers=headers
            )
        )
        self.code = code
        self.detail = detail


def invalid_login() -> NetSuiteError:
    """The 401 of every refused token-based-auth call."""
    return NetSuiteError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)
