"""The error table against the simulator's real answers: 401, 429 with Retry-After, 423, 5xx."""

from __future__ import annotations

import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import AuthFailedError, RateLimitedError, RetryLaterError
from crossdock.connectorkit.auth import ApiTokenAuth

from .conftest import Shop


def cancel(order_id: int) -> Command:
    return Command(
        idempotency_key=f"cancel-{order_id}",
        destination="shopify",
        kind="order.cancel",
        payload={"order_id": order_id},
    )


async def test_a_refused_token_is_an_auth_failure(shop: Shop) -> None:
    connector = shop.connector()
    connector.auth = ApiTokenAuth("shpat_wrong", header="X-Shopify-Access-Token")
    with pytest.raises(AuthFailedError):
        await connector.get_order(1)


async def test_a_full_rest_bucket_is_rate_limited_with_shopifys_retry_after(shop: Shop) -> None:
    await shop.faults(throttle_factor=0.05)  # a bucket of 2 calls leaking 0.1 per second
    for _ in range(3):  # another app of the same shop fills the bucket
        async with shop.http.get(f"{shop.api}/locations.json") as r:
            await r.read()
    with pytest.raises(RateLimitedError) as caught:
        await shop.connector().get_order(1)
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1.0
    assert caught.value.classification is not None
    assert caught.value.classification.status == 429


@pytest.mark.parametrize("status", [423, 500, 503])
async def test_locked_and_server_errors_are_retried_later(shop: Shop, status: int) -> None:
    order = await shop.place({"line_items": [{"sku": "MUG-RED", "quantity": 1}]})
    await shop.faults(error_rate=1.0, error_status=status)
    with pytest.raises(RetryLaterError) as caught:
        await shop.connector().perform(cancel(order["id"]))
    assert not isinstance(caught.value, RateLimitedError)
    await shop.clear_faults()
    assert shop.sim.state.order(order["id"])["cancelled_at"] is None
