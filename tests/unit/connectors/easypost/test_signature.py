"""``X-Hmac-Signature`` over the raw bytes, keyed with the NFKD-normalised secret."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from crossdock.connectorkit import Secret
from crossdock.connectors.easypost import SIGNATURE_PREFIX, normalise_secret, sign, verify
from crossdock.sandbox.kit import HexHmacSha256Signer

BODY = '{"object":"Event","id":"evt_1","result":{"signed_by":"M. NÚÑEZ"}}'.encode()
# U+FB01 (the "fi" ligature) and a composed é (U+00E9): NFKD rewrites both.
TRICKY = "\ufb01ne-caf\u00e9-secret"


def _raw_utf8_signature(body: bytes, secret: str) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_the_signature_is_lowercase_hex_hmac_sha256_with_the_prefix() -> None:
    expected = hmac.new(b"whsec", BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "whsec") == f"hmac-sha256-hex={expected}"
    assert expected == expected.lower()


def test_a_good_signature_verifies_whatever_the_header_case() -> None:
    signature = sign(BODY, "whsec")
    for name in ("X-Hmac-Signature", "x-hmac-signature", "X-HMAC-SIGNATURE"):
        assert verify({name: signature}, BODY, ["whsec"])


def test_wrong_missing_or_malformed_signatures_are_refused() -> None:
    signature = sign(BODY, "whsec")
    assert not verify({"X-Hmac-Signature": signature}, BODY, ["other"])
    assert not verify({}, BODY, ["whsec"])
    assert not verify({"X-Hmac-Signature": ""}, BODY, ["whsec"])
    assert not verify(
        {"X-Hmac-Signature": signature.removeprefix(SIGNATURE_PREFIX)}, BODY, ["whsec"]
    )
    assert not verify({"X-Hmac-Signature": SIGNATURE_PREFIX + "zz"}, BODY, ["whsec"])
    assert not verify({"X-Hmac-Signature": signature}, BODY, [])
    assert not verify({"X-Hmac-Signature": signature}, BODY + b" ", ["whsec"])


def test_reserialised_json_does_not_verify() -> None:
    signature = sign(BODY, "whsec")
    assert not verify({"X-Hmac-Signature": signature}, BODY.replace(b",", b", "), ["whsec"])


def test_rotation_accepts_old_and_new_secrets() -> None:
    old, new = sign(BODY, "old-secret"), sign(BODY, Secret("new-secret"))
    secrets: list[str | Secret] = [Secret("old-secret"), "new-secret"]
    assert verify({"X-Hmac-Signature": old}, BODY, secrets)
    assert verify({"X-Hmac-Signature": new}, BODY, secrets)
    assert not verify({"X-Hmac-Signature": old}, BODY, ["new-secret"])


def test_nfkd_normalisation_of_the_secret_matters() -> None:
    nfkd = unicodedata.normalize("NFKD", TRICKY)
    assert nfkd != TRICKY  # the test secret really changes under NFKD
    assert normalise_secret(TRICKY).reveal() == nfkd
    signed = sign(BODY, TRICKY)
    assert signed == _raw_utf8_signature(BODY, nfkd)
    assert signed != _raw_utf8_signature(BODY, TRICKY)
    # EasyPost's way verifies; a receiver keying with the raw UTF-8 bytes would refuse it...
    assert verify({"X-Hmac-Signature": signed}, BODY, [TRICKY])
    # ...and a signature made with the raw bytes is not EasyPost's, so we refuse it.
    assert not verify({"X-Hmac-Signature": _raw_utf8_signature(BODY, TRICKY)}, BODY, [TRICKY])


def test_the_simulator_signer_and_the_connector_agree() -> None:
    headers = HexHmacSha256Signer(TRICKY).sign(BODY)
    assert verify(headers, BODY, [TRICKY])
    assert headers["X-Hmac-Signature"] == sign(BODY, TRICKY)
