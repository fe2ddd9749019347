"""Business Central's error table on real-shaped error bodies."""

from __future__ import annotations

import pytest

from crossdock.connectorkit import (
    AuthFailedError,
    ConflictError,
    Outcome,
    PermanentFailureError,
    RateLimitedError,
)
from crossdock.connectorkit.http import AmbiguousRequestError, HttpResponse, make_headers
from crossdock.connectors.businesscentral import BC_ERROR_TABLE, ENTITY_CHANGED, SAME_KEY_EXISTS
from crossdock.connectors.businesscentral.errors import has_code

from .conftest import fixture_bytes


def _response(status: int, name: str | None, **headers: str) -> HttpResponse:
    content = fixture_bytes(name) if name else b""
    return HttpResponse(
        status, make_headers({"Content-Type": "application/json", **headers}), content
    )


@pytest.mark.parametrize(
    ("status", "fixture", "outcome"),
    [
        (409, "error_request_entity_changed.json", Outcome.CONFLICT),
        (412, "error_request_entity_changed.json", Outcome.CONFLICT),
        (400, "error_entity_with_same_key_exists.json", Outcome.CONFLICT),
        (429, "error_too_many_requests.json", Outcome.RATE_LIMITED),
        (401, "error_authentication_invalid_credentials.json", Outcome.AUTH),
        (400, "error_dialog_exception.json", Outcome.PERMANENT),
        (404, "error_record_not_found.json", Outcome.PERMANENT),
        (400, "error_bad_request_filter.json", Outcome.PERMANENT),
        (408, None, Outcome.AMBIGUOUS),
        (504, None, Outcome.AMBIGUOUS),
        (500, None, Outcome.RETRY),
        (503, None, Outcome.RETRY),
    ],
)
def test_each_answer_has_its_class(status: int, fixture: str | None, outcome: Outcome) -> None:
    assert BC_ERROR_TABLE.classify(_response(status, fixture)).outcome is outcome


def test_a_429_carries_its_retry_after_and_is_not_permanent() -> None:
    verdict = BC_ERROR_TABLE.classify(
        _response(429, "error_too_many_requests.json", **{"Retry-After": "17"})
    )

    error = verdict.to_exception()
    assert isinstance(error, RateLimitedError)
    assert not isinstance(error, PermanentFailureError)
    assert error.retry_after == 17


def test_a_stale_etag_and_a_taken_key_are_told_apart() -> None:
    stale = BC_ERROR_TABLE.classify(_response(412, "error_request_entity_changed.json"))
    taken = BC_ERROR_TABLE.classify(_response(400, "error_entity_with_same_key_exists.json"))

    stale_error, taken_error = stale.to_exception(), taken.to_exception()
    assert isinstance(stale_error, ConflictError)
    assert isinstance(taken_error, ConflictError)
    assert has_code(stale_error, ENTITY_CHANGED)
    assert not has_code(stale_error, SAME_KEY_EXISTS)
    assert has_code(taken_error, SAME_KEY_EXISTS)


def test_an_authentication_code_is_auth_whatever_the_status() -> None:
    verdict = BC_ERROR_TABLE.classify(
        _response(400, "error_authentication_invalid_credentials.json")
    )

    assert isinstance(verdict.to_exception(), AuthFailedError)


def test_no_answer_after_sending_is_ambiguous() -> None:
    error = AmbiguousRequestError("timed out", method="POST", url="https://x", timed_out=True)

    assert BC_ERROR_TABLE.classify_error(error).outcome is Outcome.AMBIGUOUS
