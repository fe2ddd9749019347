"""OAuth 1.0a HMAC-SHA256 token-based authentication, as NetSuite specifies it.

Per request: the oauth_* parameters plus every query parameter are signed (a JSON body never
is); keys and values are percent-encoded per RFC 3986, sorted by key then value and joined;
the base string is ``METHOD&enc(scheme://host/path)&enc(params)``; the key is
``enc(consumer_secret)&enc(token_secret)``; the realm is the account id in upper case with
``_`` for ``-`` and is not signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from crossdock.connectorkit.http import HttpRequest, rfc3986
from crossdock.connectorkit.secrets import Secret
from crossdock.runtime.clock import Clock, SystemClock

SIGNATURE_METHOD = "HMAC-SHA256"


def netsuite_realm(account_id: str) -> str:
    """Return the realm for `account_id`: upper case, ``-`` becomes ``_`` (``1234567_SB1``)."""
    return account_id.strip().upper().replace("-", "_")


def _base_uri(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{scheme}://{host}{port}{parts.path or '/'}"


def signature_base_string(method: str, url: str, oauth_params: dict[str, str]) -> str:
    """Return the OAuth 1.0a signature base string for `method` `url` and `oauth_params`."""
    query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    pairs = sorted((rfc3986(k), rfc3986(v)) for k, v in [*oauth_params.items(), *query])
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    return "&".join((method.upper(), rfc3986(_base_uri(url)), rfc3986(normalized)))


class OAuth1TokenAuth:
    """NetSuite token-based authentication (OAuth 1.0a, HMAC-SHA256).

    Args:
        account_id: The NetSuite account id (``1234567`` or ``1234567-sb1``).
        consumer_key: The integration record's consumer key.
        consumer_secret: The integration record's consumer secret.
        token_id: The access token id.
        token_secret: The access token secret.
        clock: Supplies ``oauth_timestamp``.
        nonce: Makes ``oauth_nonce`` (default: 20 random URL-safe characters).
    """

    def __init__(
        self,
        *,
        account_id: str,
        consumer_key: str,
        consumer_secret: str | Secret,
        token_id: str,
        token_secret: str | Secret,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        self.realm = netsuite_realm(account_id)
        self.consumer_key = consumer_key
        self.token_id = token_id
        consumer = rfc3986(Secret.of(consumer_secret).reveal())
        self._key = Secret(f"{consumer}&{rfc3986(Secret.of(token_secret).reveal())}")
        self.clock: Clock = clock or SystemClock()
        self._nonce = nonce or (lambda: secrets.token_urlsafe(15))

    def __repr__(self) -> str:
        return f"OAuth1TokenAuth(realm={self.realm!r}, consumer_key={self.consumer_key!r})"

    def authorization(self, method: str, url: str, *, nonce: str, timestamp: int) -> str:
        """Return the ``Authorization`` header value for one request."""
        params = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_token": self.token_id,
            "oauth_signature_method": SIGNATURE_METHOD,
            "oauth_timestamp": str(timestamp),
            "oauth_nonce": nonce,
            "oauth_version": "1.0",
        }
        base = signature_base_string(method, url, params)
        digest = hmac.new(self._key.reveal().encode(), base.encode(), hashlib.sha256).digest()
        params["oauth_signature"] = base64.b64encode(digest).decode("ascii")
        fields = [f'realm="{self.realm}"'] + [f'{k}="{rfc3986(v)}"' for k, v in params.items()]
        return "OAuth " + ",".join(fields)

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Sign `request` with a fresh nonce and timestamp."""
        value = self.authorization(
            request.method,
            request.url,
            nonce=self._nonce(),
            timestamp=int(self.clock.now().timestamp()),
        )
        return request.with_header("Authorization", value)

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """A 401 may be a reused nonce or a stale timestamp: sign once more, afresh."""
        return True
