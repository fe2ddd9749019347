"""EasyPost webhook signatures: ``X-Hmac-Signature: hmac-sha256-hex=<hex>`` over the raw body.

The key is the webhook secret after Unicode NFKD normalisation, UTF-8 encoded (wire reference
6.1; EasyPost's client libraries do the same). A secret with a ligature or a composed accent
therefore signs differently from its raw UTF-8 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Final

from crossdock.connectorkit import Secret, verify_hmac

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_PREFIX", "normalise_secret", "sign", "verify"]

SIGNATURE_HEADER: Final = "X-Hmac-Signature"
SIGNATURE_PREFIX: Final = "hmac-sha256-hex="


def normalise_secret(secret: str | Secret) -> Secret:
    """The secret as EasyPost keys its HMAC: NFKD-normalised."""
    return Secret(unicodedata.normalize("NFKD", Secret.of(secret).reveal()))


def sign(raw_body: bytes, secret: str | Secret) -> str:
    """The ``X-Hmac-Signature`` value EasyPost sends for `raw_body` under `secret`."""
    key = normalise_secret(secret).reveal().encode("utf-8")
    return SIGNATURE_PREFIX + hmac.new(key, raw_body, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(headers: Mapping[str, str], raw_body: bytes, secrets: Iterable[str | Secret]) -> bool:
    """Check an EasyPost delivery in constant time against every valid secret.

    Args:
        headers: The request headers (the name is matched case-insensitively).
        raw_body: The body exactly as received.
        secrets: Every secret currently valid (old and new during a rotation).

    Returns:
        True when the signature is present, well formed and matches one secret.
    """
    signature = _header(headers, SIGNATURE_HEADER)
    if signature is None:
        return False
    keys = [normalise_secret(s) for s in secrets]
    return verify_hmac(raw_body, signature, keys, encoding="hex", prefix=SIGNATURE_PREFIX)
