"""The error table on real-shaped Salesforce responses."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.connectorkit import Outcome
from crossdock.connectorkit.http import HttpResponse, make_headers
from crossdock.connectors.salesforce import SALESFORCE_ERROR_TABLE

FIXTURES = Path(__file__).parents[3] / "fixtures" / "payloads" / "salesforce"
MULTIPLE = (
    b'["/services/data/v62.0/sobjects/Account/0015g0000000001AAA",'
    b'"/services/data/v62.0/sobjects/Account/0015g0000000002AAA"]'
)


def _response(status: int, body: bytes) -> HttpResponse:
    return HttpResponse(status, make_headers({"Content-Type": "application/json"}), body)


def _error(code: str, message: str = "m") -> bytes:
    return f'[{{"message":"{message}","errorCode":"{code}","fields":[]}}]'.encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (401, _error("INVALID_SESSION_ID", "Session expired or invalid"), Outcome.AUTH),
        (
            403,
            _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            Outcome.RATE_LIMITED,
        ),
        (400, (FIXTURES / "error_unable_to_lock_row.json").read_bytes(), Outcome.RETRY),
        (400, _error("FIELD_CUSTOM_VALIDATION_EXCEPTION"), Outcome.PERMANENT),
        (400, _error("REQUIRED_FIELD_MISSING"), Outcome.PERMANENT),
        (400, _error("DUPLICATE_VALUE"), Outcome.PERMANENT),
        (400, _error("MALFORMED_ID"), Outcome.PERMANENT),
        (404, _error("NOT_FOUND"), Outcome.PERMANENT),
        (
            300,
            b'["/services/data/v62.0/sobjects/Account/001a","/services/data/v62.0/sobjects/Account/001b"]',
            Outcome.CONFLICT,
        ),
        (503, _error("SERVER_UNAVAILABLE"), Outcome.RETRY),
        (200, (FIXTURES / "composite_upsert_partial.json").read_bytes(), Outcome.OK),
    ],
)
def test_each_answer_gets_its_outcome(status: int, body: bytes, outcome: Outcome) -> None:
    verdict = SALESFORCE_ERROR_TABLE.classify(_response(status, body))

    assert verdict.outcome is outcome


def test_the_daily_limit_asks_to_wait_and_names_the_code() -> None:
    verdict = SALESFORCE_ERROR_TABLE.classify(
        _response(403, _error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."))
    )

    assert verdict.retry_after == 300.0
    assert verdict.codes == ("REQUEST_LIMIT_EXCEEDED",)


def test_a_validation_failure_keeps_its_code_and_message_for_the_operator() -> None:
    verdict = SALESFORCE_ERROR_TABLE.classify(
        _response(400, _error("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Cases need a subject."))
    )

    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in verdict.reason
    assert "Cases need a subject." in verdict.detail
