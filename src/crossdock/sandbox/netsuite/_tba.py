"""Token-based authentication (OAuth 1.0a, HMAC-SHA256) verified as NetSuite does it.

The simulator rebuilds the signature base string from what it received, independently of any
client: ``METHOD&enc(lower(scheme://host[:port])path)&enc(sorted params)`` where the params are
every ``oauth_*`` field of the header except ``oauth_signature`` and ``realm``, plus every
query parameter, each percent-encoded per RFC 3986 and sorted by key then value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

_FIELD = re.compile(r'\s*([A-Za-z0-9_\-]+)\s*=\s*"([^"]*)"\s*')
_REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)


class TbaRefused(Exception):  # noqa: N818 - a refusal, answered with INVALID_LOGIN
    """Why a call was refused (kept for the simulator's log; the client only sees 401)."""


def enc(value: str) -> str:
    """RFC 3986 percent-encoding (PHP ``rawurlencode``): only ``A-Za-z0-9-._~`` are kept."""
    return quote(value, safe="-._~")


def realm_for(account_id: str) -> str:
    """The realm of ``account_id``: upper case, ``-`` becomes ``_``."""
    return account_id.strip().upper().replace("-", "_")


def parse_authorization(value: str) -> dict[str, str]:
    """The fields of an ``Authorization: OAuth ...`` header, percent-decoded.

    Raises:
        TbaRefused: Not an OAuth header, or a field appears twice or is malformed.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth" or not rest.strip():
        raise TbaRefused("not an OAuth authorization header")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        if not part.strip():
            continue
        match = _FIELD.fullmatch(part)
        if match is None:
            raise TbaRefused(f"malformed OAuth field {part.strip()[:40]!r}")
        key, raw = match.group(1), unquote(match.group(2))
        if key in fields:
            raise TbaRefused(f"OAuth field {key} given twice")
        fields[key] = raw
    return fields


def base_string_uri(scheme: str, host_header: str, path: str) -> str:
    """``scheme://host[:port]/path`` with scheme and host lower-cased and default ports dropped."""
    scheme = scheme.lower()
    host = host_header.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host}{path or '/'}"


def base_string(
    method: str, uri: str, oauth_fields: Mapping[str, str], query: list[tuple[str, str]]
) -> str:
    """The signature base string of a request."""
    params = [
        (enc(k), enc(v))
        for k, v in oauth_fields.items()
        if k.startswith("oauth_") and k != "oauth_signature"
    ]
    params += [(enc(k), enc(v)) for k, v in query]
    normalized = "&".join(f"{k}={v}" for k, v in sorted(params))
    return "&".join((method.upper(), enc(uri), enc(normalized)))


def sign(base: str, consumer_secret: str, token_secret: str) -> str:
    """``base64(HMAC-SHA256(enc(consumer_secret)&enc(token_secret), base))``."""
    key = f"{enc(consumer_secret)}&{enc(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()


@dataclass
class TbaVerifier:
    """Checks token-based-auth headers against one account's integrations and tokens.

    Args:
        realm: The account's realm (``1234567_SB1``).
        consumers: consumer key -> consumer secret.
        tokens: token id -> (consumer key, token secret).
        max_skew_s: Largest accepted distance between ``oauth_timestamp`` and now.
        now: Wall-clock seconds (injectable for tests).
    """

    realm: str
    consumers: dict[str, str]
    tokens: dict[str, tuple[str, str]]
    max_skew_s: float = 300.0
    now: Callable[[], float] = time.time
    _nonces: dict[tuple[str, str, str], float] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    refuse_next: int = 0
    """Calls still to refuse whatever their signature (a test hook: NetSuite refusing a nonce
    it believes it has seen, or a moment of clock disagreement; a fresh signature passes)."""

    def verify(
        self, method: str, uri: str, query_string: str, authorization: str | None
    ) -> tuple[str, str]:
        """Verify one call; return its ``(consumer key, token id)``.

        Raises:
            TbaRefused: The call must be answered with INVALID_LOGIN.
        """
        try:
            return self._verify(method, uri, query_string, authorization)
        except TbaRefused as exc:
            self.refusals.append(str(exc))
            raise

    def _verify(
        self, method: str, uri: str, query_string: str, authorization: str | None
    ) -> tuple[str, str]:
        if not authorization:
            raise TbaRefused("no Authorization header")
        if self.refuse_next > 0:
            self.refuse_next -= 1
            raise TbaRefused("refused by the refuse-next test hook")
        fields = parse_authorization(authorization)
        missing = [name for name in _REQUIRED if not fields.get(name)]
        if missing:
            raise TbaRefused(f"missing {', '.join(missing)}")
        if fields.get("realm") != self.realm:
            raise TbaRefused(f"realm {fields.get('realm')!r} is not {self.realm!r}")
        if fields["oauth_signature_method"] != "HMAC-SHA256":
            raise TbaRefused(f"signature method {fields['oauth_signature_method']} refused")
        if fields.get("oauth_version", "1.0") != "1.0":
            raise TbaRefused("oauth_version must be 1.0")
        consumer, token = fields["oauth_consumer_key"], fields["oauth_token"]
        consumer_secret = self.consumers.get(consumer)
        owner = self.tokens.get(token)
        if consumer_secret is None or owner is None or owner[0] != consumer:
            raise TbaRefused("unknown consumer or token")
        if len(fields["oauth_nonce"]) < 6:
            raise TbaRefused("nonce shorter than 6 characters")
        try:
            stamp = int(fields["oauth_timestamp"])
        except ValueError:
            raise TbaRefused("timestamp is not a number") from None
        now = self.now()
        if abs(now - stamp) > self.max_skew_s:
            raise TbaRefused(f"timestamp {stamp} is {now - stamp:.0f} s from now")
        query = parse_qsl(query_string, keep_blank_values=True)
        expected = sign(base_string(method, uri, fields, query), consumer_secret, owner[1])
        if not hmac.compare_digest(expected.encode(), fields["oauth_signature"].encode()):
            raise TbaRefused("signature does not match")
        self._forget_old_nonces(now)
        key = (consumer, token, fields["oauth_nonce"])
        if key in self._nonces:
            raise TbaRefused("nonce already used")
        self._nonces[key] = now
        return consumer, token

    def _forget_old_nonces(self, now: float) -> None:
        # A nonce older than the skew window cannot come back with an accepted timestamp.
        horizon = now - 2 * self.max_skew_s
        for key in [k for k, seen in self._nonces.items() if seen < horizon]:
            del self._nonces[key]

    def clear(self) -> None:
        """Forget the nonces seen and the refusals logged."""
        self._nonces.clear()
        self.refusals.clear()
        self.refuse_next = 0
