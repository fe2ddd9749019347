"""Webhook signatures over the raw bytes and the two dedupe keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from crossdock.connectors.shopify import (
    InvalidSignatureError,
    WebhookHeaders,
    delivery_key,
    event_key,
    inbox_dedupe_key,
    verify_webhook,
)

from .conftest import raw

CURRENT = "shpss_current_secret"
PREVIOUS = "shpss_previous_secret"
BODY = raw("orders_create_1043_usd_taxes_added.json")


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(signature: str | None, **extra: str) -> dict[str, str]:
    base = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
        "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-11-27T14:31:45.123456Z",
    }
    if signature is not None:
        base["X-Shopify-Hmac-Sha256"] = signature
    return base | extra


def test_the_body_carries_raw_utf8() -> None:
    assert "José Núñez".encode() in BODY


@pytest.mark.parametrize("secret", [CURRENT, PREVIOUS])
def test_either_secret_of_a_rotation_verifies(secret: str) -> None:
    parsed = verify_webhook(headers(sign(BODY, secret)), BODY, [CURRENT, PREVIOUS])
    assert parsed.topic == "orders/create"
    assert parsed.triggered_at == datetime(2026, 11, 27, 14, 31, 45, 123456, tzinfo=UTC)


def test_a_retired_secret_is_refused() -> None:
    with pytest.raises(InvalidSignatureError) as caught:
        verify_webhook(headers(sign(BODY, PREVIOUS)), BODY, [CURRENT])
    assert caught.value.reason == "mismatch"


def test_a_missing_signature_is_refused() -> None:
    with pytest.raises(InvalidSignatureError) as caught:
        verify_webhook(headers(None), BODY, [CURRENT])
    assert caught.value.reason == "missing"


@pytest.mark.parametrize("bad", ["", "   ", "not base64 at all!", sign(BODY, CURRENT).upper()])
def test_a_garbled_signature_is_refused(bad: str) -> None:
    with pytest.raises(InvalidSignatureError):
        verify_webhook(headers(bad), BODY, [CURRENT])


def test_a_hex_signature_is_refused() -> None:
    hexed = hmac.new(CURRENT.encode(), BODY, hashlib.sha256).hexdigest()
    with pytest.raises(InvalidSignatureError):
        verify_webhook(headers(hexed), BODY, [CURRENT])


def test_reserialised_json_does_not_verify() -> None:
    signature = sign(BODY, CURRENT)
    reserialised = json.dumps(json.loads(BODY)).encode()  # ensure_ascii escapes José
    assert reserialised != BODY
    with pytest.raises(InvalidSignatureError):
        verify_webhook(headers(signature), reserialised, [CURRENT])


def test_one_changed_byte_does_not_verify() -> None:
    signature = sign(BODY, CURRENT)
    tampered = BODY.replace(b'"total_price": "', b'"total_price": "1', 1)
    with pytest.raises(InvalidSignatureError):
        verify_webhook(headers(signature), tampered, [CURRENT])


def test_header_names_match_in_any_case() -> None:
    lower = {k.lower(): v for k, v in headers(sign(BODY, CURRENT)).items()}
    parsed = verify_webhook(lower, BODY, [CURRENT])
    assert parsed.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert parsed.webhook_id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert parsed.shop_domain == "acme.myshopify.com"
    assert parsed.api_version == "2026-01"


def test_no_secret_configured_refuses_everything() -> None:
    with pytest.raises(InvalidSignatureError):
        verify_webhook(headers(sign(BODY, CURRENT)), BODY, [])


def test_dedupe_keys() -> None:
    parsed = WebhookHeaders.parse(headers("x"))
    assert delivery_key(parsed) == "webhook:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert event_key(parsed) == "event:orders/create:98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert inbox_dedupe_key(parsed) == event_key(parsed)


def test_a_retry_and_a_fan_out_share_the_inbox_key_but_other_topics_do_not() -> None:
    first = headers("x")
    retry = first | {"X-Shopify-Webhook-Id": "another-delivery-id"}
    cancelled = first | {"X-Shopify-Topic": "orders/cancelled"}
    assert inbox_dedupe_key(first) == inbox_dedupe_key(retry)
    assert delivery_key(WebhookHeaders.parse(first)) != delivery_key(WebhookHeaders.parse(retry))
    assert inbox_dedupe_key(first) != inbox_dedupe_key(cancelled)


def test_without_an_event_id_the_delivery_key_is_used() -> None:
    no_event = {k: v for k, v in headers("x").items() if k != "X-Shopify-Event-Id"}
    assert inbox_dedupe_key(no_event) == "webhook:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    with pytest.raises(ValueError, match="neither"):
        inbox_dedupe_key({"X-Shopify-Topic": "orders/create"})


def test_an_unreadable_trigger_time_is_none() -> None:
    parsed = WebhookHeaders.parse(headers("x", **{"X-Shopify-Triggered-At": "yesterday"}))
    assert parsed.triggered_at is None
