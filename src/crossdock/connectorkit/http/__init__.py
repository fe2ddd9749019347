"""The one HTTP client seam every connector uses: deadlines, pooling and a test transport."""

from crossdock.connectorkit.http._aiohttp import AiohttpTransport
from crossdock.connectorkit.http._client import UNSET, HttpClient, Params, rfc3986
from crossdock.connectorkit.http._errors import (
    AmbiguousRequestError,
    HttpTransportError,
    RequestNotSentError,
)
from crossdock.connectorkit.http._inprocess import ASGIApp, Handler, InProcessTransport
from crossdock.connectorkit.http._models import (
    Headers,
    HttpRequest,
    HttpResponse,
    decode_json,
    encode_json,
    make_headers,
)
from crossdock.connectorkit.http._transport import Transport

__all__ = [
    "UNSET",
    "ASGIApp",
    "AiohttpTransport",
    "AmbiguousRequestError",
    "Handler",
    "Headers",
    "HttpClient",
    "HttpRequest",
    "HttpResponse",
    "HttpTransportError",
    "InProcessTransport",
    "Params",
    "RequestNotSentError",
    "Transport",
    "decode_json",
    "encode_json",
    "make_headers",
    "rfc3986",
]
