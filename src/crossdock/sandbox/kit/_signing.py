"""Webhook signers: each system signs the raw body bytes its own way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from typing import Literal, Protocol


class Signer(Protocol):
    """Turns the raw body of a delivery into the signature headers to send with it."""

    def sign(self, body: bytes) -> dict[str, str]:
        """Return the signature headers for ``body``."""
        ...


class Base64HmacSha256Signer:
    """``base64(HMAC-SHA256(secret, raw body))`` in one header (Shopify's scheme).

    Args:
        secret: The shared secret (Shopify: the app's client secret).
        header: The header to carry the signature.
    """

    def __init__(self, secret: str, header: str = "X-Shopify-Hmac-Sha256") -> None:
        self._key = secret.encode("utf-8")
        self.header = header

    def sign(self, body: bytes) -> dict[str, str]:
        """Return ``{header: base64 digest}``."""
        digest = hmac.new(self._key, body, hashlib.sha256).digest()
        return {self.header: base64.b64encode(digest).decode("ascii")}


class HexHmacSha256Signer:
    """Lower-case hex HMAC-SHA256 with a prefix, the secret Unicode-normalised (EasyPost's scheme).

    Args:
        secret: The webhook secret.
        header: The header to carry the signature.
        prefix: Text before the hex digest.
        normalize: The Unicode normal form applied to the secret before UTF-8 encoding.
    """

    def __init__(
        self,
        secret: str,
        header: str = "X-Hmac-Signature",
        prefix: str = "hmac-sha256-hex=",
        normalize: Literal["NFC", "NFD", "NFKC", "NFKD"] | None = "NFKD",
    ) -> None:
        text = unicodedata.normalize(normalize, secret) if normalize else secret
        self._key = text.encode("utf-8")
        self.header = header
        self.prefix = prefix

    def sign(self, body: bytes) -> dict[str, str]:
        """Return ``{header: prefix + hex digest}``."""
        digest = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        return {self.header: f"{self.prefix}{digest}"}
