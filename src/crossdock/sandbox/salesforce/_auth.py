"""The OAuth 2.0 token endpoint (client credentials, JWT bearer) and the sessions it issues."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from crossdock.sandbox.salesforce._clock import VirtualClock

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCES = frozenset({"https://login.salesforce.com", "https://test.salesforce.com"})
ORG_ID = "00D5g000004XyZaEAK"


class TokenError(Exception):
    """A refused token request: HTTP 400 ``{"error", "error_description"}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body Salesforce answers with."""
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class ConnectedApp:
    """A connected app: its consumer key and secret, certificate, and users.

    Attributes:
        consumer_key: ``client_id`` / the JWT ``iss``.
        consumer_secret: ``client_secret``.
        certificate_pem: The app's certificate (or bare public key), PEM, for JWT bearer.
        run_as: The client-credentials run-as username (None: the flow is off).
        authorized_users: Usernames pre-authorized for the JWT bearer flow.
    """

    consumer_key: str
    consumer_secret: str
    certificate_pem: str | None = None
    run_as: str | None = None
    authorized_users: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Session:
    """An issued access token."""

    token: str
    username: str
    issued_s: float
    expires_s: float


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _public_key(pem: str) -> rsa.RSAPublicKey:
    raw = pem.encode()
    key: Any
    if b"CERTIFICATE" in raw:
        key = x509.load_pem_x509_certificate(raw).public_key()
    else:
        key = serialization.load_pem_public_key(raw)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the connected app's certificate must hold an RSA key")
    return key


class TokenService:
    """Issues and checks sessions.

    Args:
        apps: The connected apps.
        users: Username to user id (``005…``).
        clock: The virtual clock (``exp`` and session expiry use it).
        session_s: How long a session lives.
        seed: Seeds the tokens.
    """

    def __init__(
        self,
        apps: list[ConnectedApp],
        users: Mapping[str, str],
        clock: VirtualClock,
        *,
        session_s: float,
        seed: int,
    ) -> None:
        self.apps = {app.consumer_key: app for app in apps}
        self.users = dict(users)
        self.clock = clock
        self.session_s = session_s
        self.sessions: dict[str, Session] = {}
        self.issued = 0
        self._random = random.Random(seed)

    # -- the token endpoint ------------------------------------------------------------------

    def grant(
        self, form_body: bytes, authorization: str | None, instance_url: str
    ) -> dict[str, Any]:
        """Answer a token request (form body, optional Basic credentials).

        Raises:
            TokenError: The request is refused.
        """
        form = {k: v[0] for k, v in parse_qs(form_body.decode("utf-8", "replace")).items()}
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            app, username = self._client_credentials(form, authorization)
            token_format = "opaque"  # noqa: S105 - a format name, not a secret
        elif grant_type == JWT_BEARER_GRANT:
            app, username = self._jwt_bearer(form.get("assertion", ""), instance_url)
            token_format = None
        else:
            raise TokenError("unsupported_grant_type", "grant type not supported")
        return self._issue(app, username, instance_url, token_format)

    def _client_credentials(
        self, form: Mapping[str, str], authorization: str | None
    ) -> tuple[ConnectedApp, str]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise TokenError("invalid_client", "invalid client credentials") from None
        app = self.apps.get(client_id or "")
        if app is None or not hmac.compare_digest(
            (secret or "").encode(), app.consumer_secret.encode()
        ):
            raise TokenError("invalid_client", "invalid client credentials")
        if app.run_as is None:
            raise TokenError("invalid_grant", "no client credentials user enabled")
        return app, app.run_as

    def _jwt_bearer(self, assertion: str, instance_url: str) -> tuple[ConnectedApp, str]:
        parts = assertion.split(".")
        if len(parts) != 3:
            raise TokenError("invalid_grant", "invalid assertion")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            raise TokenError("invalid_grant", "invalid assertion") from None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            raise TokenError("invalid_grant", "invalid assertion: the algorithm must be RS256")
        if not isinstance(claims, dict):
            raise TokenError("invalid_grant", "invalid assertion")
        app = self.apps.get(str(claims.get("iss", "")))
        if app is None or app.certificate_pem is None:
            raise TokenError("invalid_client", "invalid client credentials")
        try:
            _public_key(app.certificate_pem).verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise TokenError("invalid_grant", "invalid assertion: bad signature") from None
        # login.salesforce.com, test.salesforce.com, or the org's own My Domain URL.
        if claims.get("aud") not in AUDIENCES | {instance_url}:
            raise TokenError("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= self.clock.now():
            raise TokenError("invalid_grant", "expired authorization code")
        username = str(claims.get("sub", ""))
        if username not in app.authorized_users or username not in self.users:
            raise TokenError("invalid_grant", "user hasn't approved this consumer")
        return app, username

    def _issue(
        self, app: ConnectedApp, username: str, instance_url: str, token_format: str | None
    ) -> dict[str, Any]:
        self.issued += 1
        secret = "".join(self._random.choice("0123456789abcdefABCDEF") for _ in range(48))
        token = f"{ORG_ID[:15]}!AQ4AQ{secret}"
        now = self.clock.now()
        self.sessions[token] = Session(token, username, now, now + self.session_s)
        issued_at = str(int(now * 1000))
        identity = f"{instance_url}/id/{ORG_ID}/{self.users[username]}"
        digest = hmac.new(
            app.consumer_secret.encode(), f"{identity}{issued_at}".encode(), hashlib.sha256
        ).digest()
        body: dict[str, Any] = {
            "access_token": token,
            "signature": base64.b64encode(digest).decode(),
            "scope": "api",
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if token_format is not None:
            body["token_format"] = token_format
        return body

    # -- checking calls ----------------------------------------------------------------------

    def session_for(self, authorization: str | None) -> Session | None:
        """The live session of an ``Authorization: Bearer|OAuth <token>`` header, or None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() not in {"bearer", "oauth"}:
            return None
        session = self.sessions.get(token.strip())
        if session is None or session.expires_s <= self.clock.now():
            return None
        return session

    def expire_all(self) -> int:
        """Expire every session (as an admin revoking them would); return how many."""
        count = len(self.sessions)
        self.sessions.clear()
        return count
