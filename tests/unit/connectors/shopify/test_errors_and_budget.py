"""Shopify's error table and the REST/GraphQL budget routing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from crossdock.connectorkit import Outcome
from crossdock.connectorkit.http import HttpResponse, encode_json, make_headers
from crossdock.connectors.shopify import (
    SHOPIFY_ERROR_TABLE,
    BackfillCursor,
    ShopifyBudget,
    infer_order_topic,
    next_link,
    use_api,
)
from crossdock.connectors.shopify.errors import is_throttled, throttle_wait
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import Feedback

THROTTLED: dict[str, Any] = {
    "errors": [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage"},
        }
    ],
    "extensions": {
        "cost": {
            "requestedQueryCost": 152,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 1000.0,
                "currentlyAvailable": 52,
                "restoreRate": 50.0,
            },
        }
    },
}


def response(status: int, body: Any = None, **headers: str) -> HttpResponse:
    content = b"" if body is None else encode_json(body)
    return HttpResponse(status, make_headers(headers), content)


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (401, {"errors": "[API] Invalid API key or access token"}, Outcome.AUTH),
        (
            403,
            {"errors": "This action requires merchant approval for write_orders scope."},
            Outcome.AUTH,
        ),
        (404, {"errors": "Not Found"}, Outcome.PERMANENT),
        (422, {"errors": {"base": ["Cannot cancel a fulfilled order"]}}, Outcome.PERMANENT),
        (423, {"errors": "Locked"}, Outcome.RETRY),
        (500, {"errors": "Internal Server Error"}, Outcome.RETRY),
        (502, None, Outcome.RETRY),
        (503, {"errors": "Service Unavailable"}, Outcome.RETRY),
        (504, None, Outcome.AMBIGUOUS),
        (200, {"data": {"shop": {"name": "x"}}}, Outcome.OK),
        (201, {"fulfillment": {"id": 1}}, Outcome.OK),
    ],
)
def test_statuses(status: int, body: Any, outcome: Outcome) -> None:
    assert SHOPIFY_ERROR_TABLE.classify(response(status, body)).outcome is outcome


def test_a_422_keeps_the_errors_body_for_the_dead_letter() -> None:
    verdict = SHOPIFY_ERROR_TABLE.classify(
        response(422, {"errors": {"base": ["Cannot cancel a fulfilled order"]}})
    )
    assert "Cannot cancel a fulfilled order" in verdict.detail


def test_a_429_waits_for_retry_after() -> None:
    verdict = SHOPIFY_ERROR_TABLE.classify(
        response(
            429, {"errors": "Exceeded 2 calls per second for api client."}, **{"Retry-After": "2.0"}
        )
    )
    assert verdict.outcome is Outcome.RATE_LIMITED
    assert verdict.retry_after == 2.0


@pytest.mark.parametrize("status", [200, 429])
def test_graphql_throttling_is_read_from_the_body_whatever_the_status(status: int) -> None:
    verdict = SHOPIFY_ERROR_TABLE.classify(response(status, THROTTLED))
    assert verdict.outcome is Outcome.RATE_LIMITED
    assert verdict.retry_after == pytest.approx((152 - 52) / 50.0)


def test_throttle_helpers() -> None:
    assert is_throttled(THROTTLED)
    assert not is_throttled({"data": {}})
    assert throttle_wait({"data": {}}) is None


def test_graphql_errors_without_data_are_permanent_and_access_denied_is_auth() -> None:
    invalid = {"errors": [{"message": "Field 'nope' doesn't exist on type 'Shop'"}]}
    assert SHOPIFY_ERROR_TABLE.classify(response(200, invalid)).outcome is Outcome.PERMANENT
    denied = {"errors": [{"message": "Access denied", "extensions": {"code": "ACCESS_DENIED"}}]}
    assert SHOPIFY_ERROR_TABLE.classify(response(200, denied)).outcome is Outcome.AUTH


def test_user_errors_pass_the_table_for_the_handler_to_settle() -> None:
    body = {
        "data": {
            "inventorySetQuantities": {
                "inventoryAdjustmentGroup": None,
                "userErrors": [
                    {"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input"], "message": "stale"}
                ],
            }
        }
    }
    assert SHOPIFY_ERROR_TABLE.classify(response(200, body)).outcome is Outcome.OK


async def test_the_budget_routes_rest_and_graphql_to_their_own_bucket() -> None:
    clock = ManualClock()
    budget = ShopifyBudget("shopify:acme", clock=clock)
    permit = await budget.acquire()
    budget.release(permit, Feedback(200, {"X-Shopify-Shop-Api-Call-Limit": "39/40"}))
    assert budget.rest.level == 39
    assert not budget.wants_body
    with use_api("graphql"):
        assert budget.wants_body
        permit = await budget.acquire(100)
        budget.release(permit, Feedback(200, {}, THROTTLED))
    assert budget.graphql.available == 52
    assert budget.graphql.restore_rate == 50.0
    assert budget.rest.level == 39  # untouched by the GraphQL call
    assert budget.wait_time() == pytest.approx(0.0)


def test_next_link() -> None:
    header = (
        "<https://acme.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=abc>; "
        'rel="previous", <https://acme.myshopify.com/admin/api/2026-01/orders.json?limit=250'
        '&page_info=def>; rel="next"'
    )
    assert next_link(header) == (
        "https://acme.myshopify.com/admin/api/2026-01/orders.json?limit=250&page_info=def"
    )
    assert next_link('<https://x/orders.json?page_info=abc>; rel="previous"') is None
    assert next_link(None) is None


@pytest.mark.parametrize(
    ("order", "topic"),
    [
        (
            {"created_at": "2026-11-27T06:31:44-08:00", "updated_at": "2026-11-27T06:31:44-08:00"},
            "orders/create",
        ),
        (
            {"created_at": "2026-11-27T06:31:44-08:00", "updated_at": "2026-11-27T06:40:00-08:00"},
            "orders/updated",
        ),
        (
            {
                "created_at": "2026-11-27T06:31:44-08:00",
                "updated_at": "2026-11-27T06:40:00-08:00",
                "cancelled_at": "2026-11-27T06:40:00-08:00",
            },
            "orders/cancelled",
        ),
    ],
)
def test_backfill_infers_the_topic(order: dict[str, Any], topic: str) -> None:
    assert infer_order_topic(order) == topic


def test_the_cursor_round_trips_through_json() -> None:
    cursor = BackfillCursor(
        datetime(2026, 11, 27, 10, tzinfo=UTC), datetime(2026, 11, 27, 9, 59, tzinfo=UTC)
    )
    assert BackfillCursor.from_json(cursor.to_json()) == cursor
    with pytest.raises(ValueError, match="updated_at_min"):
        BackfillCursor.from_json({})
