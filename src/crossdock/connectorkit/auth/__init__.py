"""Auth schemes: objects that apply credentials to a request and refresh them on a 401."""

from crossdock.connectorkit.auth._base import ApiTokenAuth, AuthScheme, BasicAuth, NoAuth
from crossdock.connectorkit.auth._oauth1 import (
    OAuth1TokenAuth,
    netsuite_realm,
    signature_base_string,
)
from crossdock.connectorkit.auth._oauth2 import (
    JWT_BEARER_GRANT,
    AccessToken,
    OAuth2ClientCredentials,
    OAuth2JwtBearer,
    OAuth2TokenAuth,
)

__all__ = [
    "JWT_BEARER_GRANT",
    "AccessToken",
    "ApiTokenAuth",
    "AuthScheme",
    "BasicAuth",
    "NoAuth",
    "OAuth1TokenAuth",
    "OAuth2ClientCredentials",
    "OAuth2JwtBearer",
    "OAuth2TokenAuth",
    "netsuite_realm",
    "signature_base_string",
]
