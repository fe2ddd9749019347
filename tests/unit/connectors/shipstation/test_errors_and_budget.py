"""The error table (by status, ShipStation sends no codes) and the requests-per-window budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crossdock.connectorkit import Outcome
from crossdock.connectorkit.errors import PermanentFailureError, RateLimitedError
from crossdock.connectorkit.http import HttpResponse, make_headers
from crossdock.connectors.shipstation import SHIPSTATION_ERROR_TABLE, shipstation_budget
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import Feedback


def _response(status: int, body: bytes = b"{}", **headers: str) -> HttpResponse:
    pairs = {k.replace("_", "-"): v for k, v in headers.items()}
    return HttpResponse(status, make_headers(pairs), body, "https://ssapi.shipstation.com/x")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (401, Outcome.AUTH),
        (404, Outcome.PERMANENT),
        (400, Outcome.PERMANENT),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.AMBIGUOUS),
    ],
)
def test_statuses_are_classified(status: int, outcome: Outcome) -> None:
    assert SHIPSTATION_ERROR_TABLE.classify(_response(status)).outcome is outcome


def test_a_429_waits_for_the_window_reset() -> None:
    verdict = SHIPSTATION_ERROR_TABLE.classify(
        _response(
            429,
            b'{"Message":"Too Many Requests"}',
            X_Rate_Limit_Limit="40",
            X_Rate_Limit_Remaining="0",
            X_Rate_Limit_Reset="37",
        )
    )

    assert verdict.retry_after == 37.0
    error = verdict.to_exception()
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 37.0


def test_a_400_is_permanent_and_keeps_shipstations_body(raw_payload: Callable[[str], bytes]):
    body = raw_payload("createorder_400_missing_fields.json")

    error = SHIPSTATION_ERROR_TABLE.classify(_response(400, body)).to_exception()

    assert isinstance(error, PermanentFailureError)
    assert "ShipStation rejected the request (400)" in str(error)
    assert "The orderDate field is required." in str(error)


async def test_the_budget_adopts_the_reported_limit_and_waits_for_the_reset() -> None:
    clock = ManualClock()
    budget = shipstation_budget("shipstation:test", clock=clock)
    assert budget.limit == 40

    permit = await budget.acquire()
    budget.release(
        permit,
        Feedback(
            200,
            {"X-Rate-Limit-Limit": "20", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "12"},
        ),
    )

    assert budget.limit == 20
    assert budget.wait_time() == pytest.approx(12.0)
    clock.advance(12.0)
    assert budget.wait_time() == 0.0


async def test_the_budget_never_grants_more_than_the_window_holds() -> None:
    clock = ManualClock()
    budget = shipstation_budget("shipstation:test", limit=3, window=60.0, clock=clock)

    for _ in range(3):
        budget.release(await budget.acquire(), Feedback(200, {}))

    assert budget.wait_time() == pytest.approx(60.0)
