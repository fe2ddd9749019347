"""inventory.set settling, against a shop that keeps moving (a real-shaped in-process handler)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import ConflictError, PermanentFailureError, RetryLaterError
from crossdock.connectorkit.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    InProcessTransport,
    encode_json,
    make_headers,
)
from crossdock.connectors.shopify import ShopifyConnector, ShopifySettings

COST = {
    "cost": {
        "requestedQueryCost": 10,
        "actualQueryCost": 10,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 1990,
            "restoreRate": 100.0,
        },
    }
}


class BusyShop:
    """Every read sees a quantity one lower (sales keep coming); writes answer `write_error`."""

    def __init__(self, write_error: str | None = "CHANGE_FROM_QUANTITY_STALE") -> None:
        self.quantity = 10
        self.write_error = write_error
        self.keys: list[str] = []
        self.compares: list[int] = []

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        assert request.header("X-Shopify-Access-Token") == "shpat_x"
        body = json.loads(request.content or b"{}")
        query: str = body["query"]
        if query.lstrip().startswith("mutation"):
            self.keys.append(query.split('@idempotent(key: "')[1].split('"')[0])
            self.compares.append(body["variables"]["input"]["quantities"][0]["changeFromQuantity"])
            errors = [{"code": self.write_error, "field": ["input"], "message": "no"}]
            data: Any = {
                "inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}
            }
        else:
            self.quantity -= 1
            level = {
                "id": "gid://l",
                "quantities": [{"name": "available", "quantity": self.quantity}],
            }
            data = {"inventoryItem": {"id": "gid://i", "sku": "S", "inventoryLevel": level}}
        payload = encode_json({"data": data, "extensions": COST})
        return HttpResponse(200, make_headers({"Content-Type": "application/json"}), payload)


@pytest.fixture
def busy() -> BusyShop:
    return BusyShop()


@pytest.fixture
async def connector(busy: BusyShop) -> AsyncIterator[ShopifyConnector]:
    http = HttpClient(InProcessTransport.from_handler(busy))
    yield ShopifyConnector(
        ShopifySettings("acme.myshopify.com", settle_attempts=3),
        http=http,
        access_token="shpat_x",
        base_url="http://acme.test",
    )
    await http.aclose()


def set_to(quantity: int) -> Command:
    return Command(
        idempotency_key="flow-1:step-2",
        destination="shopify:acme",
        kind="inventory.set",
        payload={"inventory_item_id": 1, "location_id": 2, "quantity": quantity},
    )


async def test_a_compare_that_stays_stale_ends_as_a_conflict_after_bounded_attempts(
    connector: ShopifyConnector, busy: BusyShop
) -> None:
    with pytest.raises(ConflictError, match="after 3 compare-and-set attempts"):
        await connector.perform(set_to(100))
    assert busy.compares == [9, 8, 7]  # each issue compares with a fresh read
    assert len(set(busy.keys)) == 3  # a new @idempotent key per parameter set


async def test_a_moving_quantity_that_reaches_the_target_settles_as_done(
    connector: ShopifyConnector, busy: BusyShop
) -> None:
    result = await connector.perform(set_to(7))
    assert result["outcome"] == "already_at_target"
    assert busy.compares == [9, 8]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("IDEMPOTENCY_CONCURRENT_REQUEST", RetryLaterError),
        ("INVALID_LOCATION", PermanentFailureError),
        ("IDEMPOTENCY_KEY_PARAMETER_MISMATCH", PermanentFailureError),
    ],
)
async def test_other_user_errors_are_classified(
    connector: ShopifyConnector, busy: BusyShop, code: str, error: type[Exception]
) -> None:
    busy.write_error = code
    with pytest.raises(error, match=code):
        await connector.perform(set_to(100))
    assert len(busy.compares) == 1  # classified, not retried in the handler


async def test_a_believed_value_equal_to_the_target_is_still_checked_by_shopify(
    connector: ShopifyConnector, busy: BusyShop
) -> None:
    believed = Command(
        idempotency_key="flow-1:step-3",
        destination="shopify:acme",
        kind="inventory.set",
        payload={"inventory_item_id": 1, "location_id": 2, "quantity": 100, "change_from": 100},
    )
    with pytest.raises(ConflictError):
        await connector.perform(believed)
    assert busy.compares == [100, 9, 8]  # the belief was sent for Shopify to compare first
