"""The connector kit: what every connector stands on (HTTP seam, auth, error tables, base class).

Submodules: `crossdock.connectorkit.http` (the HTTP seam), `crossdock.connectorkit.auth`
(auth schemes). The names most connectors need are re-exported here.
"""

from crossdock.connectorkit.classify import (
    DEFAULT_ERROR_TABLE,
    Classification,
    ErrorTable,
    Outcome,
    Rule,
    error_codes,
)
from crossdock.connectorkit.connector import Connector, HandlerSpec, handles
from crossdock.connectorkit.errors import (
    AmbiguousOutcomeError,
    AuthFailedError,
    ConflictError,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
)
from crossdock.connectorkit.secrets import Secret
from crossdock.connectorkit.webhooks import sign_hmac, verify_hmac

__all__ = [
    "DEFAULT_ERROR_TABLE",
    "AmbiguousOutcomeError",
    "AuthFailedError",
    "Classification",
    "ConflictError",
    "Connector",
    "ErrorTable",
    "HandlerSpec",
    "Outcome",
    "PermanentFailureError",
    "RateLimitedError",
    "RetryLaterError",
    "Rule",
    "Secret",
    "error_codes",
    "handles",
    "sign_hmac",
    "verify_hmac",
]
