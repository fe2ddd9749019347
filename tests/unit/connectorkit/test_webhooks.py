"""Webhook HMAC verification over raw bytes, with rotation, base64 and hex."""

from __future__ import annotations

import base64
import hashlib
import hmac

from crossdock.connectorkit import Secret, sign_hmac, verify_hmac

BODY = '{"id":820982911946154508,"email":"zoë@example.com","total_price":"12.50"}'.encode()


def test_shopify_style_base64_signature_with_rotation() -> None:
    signature = base64.b64encode(hmac.new(b"new-secret", BODY, hashlib.sha256).digest()).decode()
    assert verify_hmac(BODY, signature, ["old-secret", Secret("new-secret")])
    assert not verify_hmac(BODY, signature, ["old-secret"])


def test_reserialised_json_does_not_verify() -> None:
    signature = sign_hmac(BODY, "s")
    assert not verify_hmac(BODY.decode().replace(",", ", ").encode(), signature, ["s"])


def test_easypost_style_hex_with_prefix() -> None:
    signature = "hmac-sha256-hex=" + sign_hmac(BODY, "whsec", encoding="hex")
    assert verify_hmac(BODY, signature, ["whsec"], encoding="hex", prefix="hmac-sha256-hex=")
    assert not verify_hmac(BODY, signature, ["whsec"], encoding="hex", prefix="sha1=")


def test_missing_or_malformed_signatures_are_refused() -> None:
    assert not verify_hmac(BODY, None, ["s"])
    assert not verify_hmac(BODY, "", ["s"])
    assert not verify_hmac(BODY, "not base64 !!", ["s"])
    assert not verify_hmac(BODY, "zz", ["s"], encoding="hex")
    assert not verify_hmac(BODY, sign_hmac(BODY, "s"), [])
