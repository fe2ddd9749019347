"""OAuth 2.0 token flows: client credentials and JWT bearer, with a cached, single-flight token."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from crossdock.connectorkit.errors import AuthFailedError, RetryLaterError
from crossdock.connectorkit.http import HttpClient, HttpRequest, HttpTransportError
from crossdock.connectorkit.secrets import Secret
from crossdock.runtime.clock import Clock, SystemClock

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when to stop using it.

    Attributes:
        value: The token.
        expires_at: Monotonic time (of the auth's clock) when it must be refreshed.
        extras: Other fields of the token response (``instance_url``, ``scope``, ``id``...).
    """

    value: Secret
    expires_at: float
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)


class OAuth2TokenAuth:
    """Base of the token flows: bearer header, cache, refresh before expiry or on a 401.

    Concurrent callers share one refresh (single flight): they wait on one lock, and a 401
    on a request made with an older token does not trigger a second refresh.

    Args:
        http: The seam used to call the token endpoint.
        token_url: The token endpoint.
        clock: The clock.
        refresh_margin: Seconds before expiry when the token is refreshed.
        default_lifetime: Seconds a token lives when the response does not say
            (Salesforce sends ``issued_at`` but no ``expires_in``).
        timeout: Seconds a token request may take.
    """

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        *,
        clock: Clock | None = None,
        refresh_margin: float = 60.0,
        default_lifetime: float = 3600.0,
        timeout: float = 30.0,
    ) -> None:
        self.http = http
        self.token_url = token_url
        self.clock: Clock = clock or SystemClock()
        self.refresh_margin = refresh_margin
        self.default_lifetime = default_lifetime
        self.timeout = timeout
        self.fetches = 0
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.token_url!r})"

    def _form(self) -> dict[str, str]:
        raise NotImplementedError

    def _fresh(self, token: AccessToken | None) -> bool:
        return token is not None and self.clock.monotonic() < token.expires_at - self.refresh_margin

    async def token(self) -> AccessToken:
        """Return a valid token, fetching one if none is cached or it is about to expire."""
        if self._token is not None and self._fresh(self._token):
            return self._token
        async with self._lock:
            if self._token is None or not self._fresh(self._token):
                self._token = await self._fetch()
            return self._token

    async def apply(self, request: HttpRequest) -> HttpRequest:
        """Set ``Authorization: Bearer <token>``."""
        token = await self.token()
        return request.with_header("Authorization", f"Bearer {token.value.reveal()}")

    async def on_unauthorized(self, request: HttpRequest | None = None) -> bool:
        """Drop the token and fetch a new one (once, however many callers saw the 401)."""
        async with self._lock:
            current = self._token
            sent = request.header("Authorization") if request is not None else None
            if (
                current is not None
                and sent is not None
                and sent != f"Bearer {current.value.reveal()}"
            ):
                return True  # someone already refreshed since this request was signed
            self._token = None
            self._token = await self._fetch()
            return True

    async def _fetch(self) -> AccessToken:
        self.fetches += 1
        try:
            response = await self.http.request(
                "POST",
                self.token_url,
                content=urlencode(self._form()).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                timeout=self.timeout,
                idempotent=True,
            )
        except HttpTransportError as exc:
            raise RetryLaterError(f"token endpoint unreachable: {exc}") from exc
        body = response.json_or_none()
        if response.status != 200 or not isinstance(body, Mapping) or "access_token" not in body:
            error = body.get("error") if isinstance(body, Mapping) else None
            reason = f"token request refused: HTTP {response.status} {error or ''}".strip()
            if response.status in {400, 401, 403}:
                raise AuthFailedError(reason, detail=_describe(body))
            raise RetryLaterError(reason)
        return AccessToken(
            value=Secret(str(body["access_token"])),
            expires_at=self.clock.monotonic() + self._lifetime(body),
            extras={k: v for k, v in body.items() if k not in {"access_token", "refresh_token"}},
        )

    def _lifetime(self, body: Mapping[str, Any]) -> float:
        expires_in = body.get("expires_in")
        if expires_in is not None:
            try:
                seconds = float(expires_in)
            except (TypeError, ValueError):
                seconds = math.nan
            if math.isfinite(seconds) and seconds > 0:
                return seconds
        issued_at = body.get("issued_at")
        if issued_at is not None:
            try:
                age = self.clock.now().timestamp() - float(issued_at) / 1000.0
            except (TypeError, ValueError):
                age = 0.0
            return max(0.0, self.default_lifetime - max(0.0, age))
        return self.default_lifetime


def _describe(body: object) -> str | None:
    if isinstance(body, Mapping):
        description = body.get("error_description")
        return str(description) if description is not None else None
    return None


class OAuth2ClientCredentials(OAuth2TokenAuth):
    """The client-credentials grant (Salesforce, Microsoft Entra for Business Central).

    Args:
        http: The seam used to call the token endpoint.
        token_url: E.g. ``https://<MyDomain>.my.salesforce.com/services/oauth2/token`` or
            ``https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token``.
        client_id: The client (consumer) id.
        client_secret: The client secret.
        scope: E.g. ``https://api.businesscentral.dynamics.com/.default`` (Entra).
        **options: `OAuth2TokenAuth` options (clock, refresh_margin, default_lifetime, timeout).
    """

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        *,
        client_id: str,
        client_secret: str | Secret,
        scope: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(http, token_url, **options)
        self.client_id = client_id
        self._client_secret = Secret.of(client_secret)
        self.scope = scope

    def _form(self) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret.reveal(),
        }
        if self.scope:
            form["scope"] = self.scope
        return form


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class OAuth2JwtBearer(OAuth2TokenAuth):
    """The JWT bearer grant (Salesforce server-to-server), signed RS256 with `cryptography`.

    Args:
        http: The seam used to call the token endpoint.
        token_url: E.g. ``https://login.salesforce.com/services/oauth2/token``.
        issuer: ``iss``: the connected app's consumer key.
        subject: ``sub``: the username.
        audience: ``aud``: ``https://login.salesforce.com`` (``https://test.salesforce.com``
            for a sandbox).
        private_key_pem: The app certificate's RSA private key, PEM.
        assertion_lifetime: Seconds until the assertion's ``exp`` (Salesforce: a few minutes).
        **options: `OAuth2TokenAuth` options.
    """

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        *,
        issuer: str,
        subject: str,
        audience: str,
        private_key_pem: str | Secret,
        assertion_lifetime: float = 180.0,
        **options: Any,
    ) -> None:
        super().__init__(http, token_url, **options)
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "OAuth2JwtBearer needs the 'cryptography' package: pip install 'crossdock[sandbox]'"
            ) from exc
        key = serialization.load_pem_private_key(
            Secret.of(private_key_pem).reveal().encode(), password=None
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the JWT bearer flow needs an RSA private key (RS256)")
        self._key = key
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.assertion_lifetime = assertion_lifetime

    def assertion(self) -> str:
        """Return a freshly signed JWT: ``{"alg": "RS256"}`` with iss, sub, aud and exp."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"alg": "RS256", "typ": "JWT"}
        claims = {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": self.audience,
            "exp": int(self.clock.now().timestamp() + self.assertion_lifetime),
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    def _form(self) -> dict[str, str]:
        return {"grant_type": JWT_BEARER_GRANT, "assertion": self.assertion()}
