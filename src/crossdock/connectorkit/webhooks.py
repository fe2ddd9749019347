"""Webhook signatures: constant-time HMAC checks over the raw bytes, with secret rotation."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

from crossdock.connectorkit.secrets import Secret

Encoding = Literal["base64", "hex"]


def sign_hmac(
    raw_body: bytes,
    secret: str | Secret,
    *,
    encoding: Encoding = "base64",
    digest: str = "sha256",
) -> str:
    """Return the HMAC of `raw_body` under `secret`, base64 or lower-case hex."""
    key = Secret.of(secret).reveal().encode()
    mac = hmac.new(key, raw_body, digest).digest()
    return base64.b64encode(mac).decode("ascii") if encoding == "base64" else mac.hex()


def _decode(signature: str, encoding: Encoding) -> bytes | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(signature)
        return base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return None


def verify_hmac(
    raw_body: bytes,
    signature: str | None,
    secrets: Iterable[str | Secret],
    *,
    encoding: Encoding = "base64",
    digest: str = "sha256",
    prefix: str = "",
) -> bool:
    """Check a webhook signature over the exact bytes received, in constant time.

    Args:
        raw_body: The body as received (never re-serialised JSON).
        signature: The header value, e.g. Shopify's ``X-Shopify-Hmac-Sha256``.
        secrets: Every secret currently valid (old and new during a rotation).
        encoding: How the signature is written: ``base64`` (Shopify) or ``hex`` (EasyPost).
        digest: The hash (``sha256`` unless the system says otherwise).
        prefix: Text before the signature, e.g. EasyPost's ``hmac-sha256-hex=``.

    Returns:
        True when the signature matches under one of `secrets`.
    """
    if not signature:
        return False
    text = signature.strip()
    if prefix:
        if not text.startswith(prefix):
            return False
        text = text[len(prefix) :]
    given = _decode(text, encoding)
    if given is None:
        return False
    matched = False
    for secret in secrets:
        key = Secret.of(secret).reveal().encode()
        expected = hmac.new(key, raw_body, getattr(hashlib, digest)).digest()
        matched |= hmac.compare_digest(expected, given)
    return matched
