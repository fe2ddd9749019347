"""Shopify webhook deliveries: the X-Shopify-* headers, the HMAC check and the dedupe keys.

Shopify signs each HTTPS delivery with ``base64(HMAC-SHA256(client secret, raw body))`` in
``X-Shopify-Hmac-Sha256``. The check runs over the exact bytes received (re-serialised JSON does
not match: non-ASCII arrives as raw UTF-8), in constant time, against every secret valid now:
the current one and, during a rotation (which takes up to an hour to apply), the previous one.

Two keys identify a delivery:

- the **delivery key** ``webhook:<X-Shopify-Webhook-Id>``: the same value on every retry of one
  delivery (Shopify's libraries call it the idempotency key);
- the **event key** ``event:<topic>:<X-Shopify-Event-Id>``: shared by every delivery of one
  merchant action to this app, including retries and fan-out to several subscriptions.

The inbox uses the event key (`inbox_dedupe_key`), since it catches both a retried delivery and
a fanned-out one; the topic is part of it because one merchant action (a cancellation) fires
several topics (``orders/cancelled`` and ``orders/updated``) under one event id, each meaning
something different. Without an event id the delivery key is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from crossdock.canonical.mapping import MappingError, timestamp
from crossdock.connectorkit.secrets import Secret
from crossdock.connectorkit.webhooks import verify_hmac

__all__ = [
    "HMAC_HEADER",
    "InvalidSignatureError",
    "WebhookHeaders",
    "delivery_key",
    "event_key",
    "header_value",
    "inbox_dedupe_key",
    "verify_webhook",
]

HMAC_HEADER = "X-Shopify-Hmac-Sha256"


class InvalidSignatureError(Exception):
    """A delivery whose HMAC is missing or wrong; the ingress answers 401 and stores nothing.

    Attributes:
        reason: ``"missing"`` or ``"mismatch"``.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"shopify webhook signature {reason}: {HMAC_HEADER} refused")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Return header `name`, matched case-insensitively (HTTP/2 lower-cases every name)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class WebhookHeaders:
    """The X-Shopify-* headers of one delivery.

    Attributes:
        topic: e.g. ``orders/create``.
        shop_domain: the ``*.myshopify.com`` domain.
        api_version: the version that serialised the payload, e.g. ``2026-01``.
        webhook_id: unique per delivery, the same on its retries.
        event_id: shared by all deliveries of one merchant action.
        triggered_at: when the event fired (retries keep it); None when absent or unreadable.
        name: the subscription's name, if it has one.
    """

    topic: str | None
    shop_domain: str | None
    api_version: str | None
    webhook_id: str | None
    event_id: str | None
    triggered_at: datetime | None
    name: str | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> WebhookHeaders:
        """Read the headers (any case); a missing one is None."""

        def get(suffix: str) -> str | None:
            value = header_value(headers, f"X-Shopify-{suffix}")
            return value.strip() or None if value is not None else None

        return cls(
            topic=get("Topic"),
            shop_domain=get("Shop-Domain"),
            api_version=get("API-Version"),
            webhook_id=get("Webhook-Id"),
            event_id=get("Event-Id"),
            triggered_at=_time_or_none(get("Triggered-At")),
            name=get("Name"),
        )


def _time_or_none(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return timestamp(value, field="X-Shopify-Triggered-At")
    except MappingError:
        return None


def verify_webhook(
    headers: Mapping[str, str], raw_body: bytes, secrets: Iterable[str | Secret]
) -> WebhookHeaders:
    """Check a delivery's HMAC over its raw bytes against every valid secret.

    Args:
        headers: the request headers (names in any case).
        raw_body: the body exactly as received.
        secrets: the current client secret and, during a rotation, the previous one.

    Returns:
        The parsed X-Shopify-* headers.

    Raises:
        InvalidSignatureError: the HMAC header is missing or matches no secret.
    """
    signature = header_value(headers, HMAC_HEADER)
    if not signature or not signature.strip():
        raise InvalidSignatureError("missing")
    if not verify_hmac(raw_body, signature, list(secrets), encoding="base64"):
        raise InvalidSignatureError("mismatch")
    return WebhookHeaders.parse(headers)


def delivery_key(headers: WebhookHeaders) -> str | None:
    """The delivery-level key ``webhook:<id>``: equal on every retry of one delivery."""
    return f"webhook:{headers.webhook_id}" if headers.webhook_id else None


def event_key(headers: WebhookHeaders) -> str | None:
    """The event-level key ``event:<topic>:<event id>``: equal across retries and fan-out."""
    if not headers.event_id:
        return None
    return f"event:{headers.topic or '?'}:{headers.event_id}"


def inbox_dedupe_key(headers: WebhookHeaders | Mapping[str, str]) -> str:
    """The key the inbox deduplicates Shopify deliveries on: the event key, else the delivery key.

    Raises:
        ValueError: the delivery carries neither X-Shopify-Event-Id nor X-Shopify-Webhook-Id.
    """
    parsed = headers if isinstance(headers, WebhookHeaders) else WebhookHeaders.parse(headers)
    key = event_key(parsed) or delivery_key(parsed)
    if key is None:
        raise ValueError("shopify delivery has neither X-Shopify-Event-Id nor X-Shopify-Webhook-Id")
    return key
