"""Error tables: default rules, per-connector extension, codes from real error shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crossdock.connectorkit import (
    DEFAULT_ERROR_TABLE,
    AmbiguousOutcomeError,
    AuthFailedError,
    ConflictError,
    ErrorTable,
    Outcome,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
    Rule,
    error_codes,
)
from crossdock.connectorkit.http import (
    AmbiguousRequestError,
    HttpResponse,
    RequestNotSentError,
    encode_json,
    make_headers,
)
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.errors import PermanentError, RetryableError


def response(status: int, body: object = None, **headers: str) -> HttpResponse:
    content = encode_json(body) if body is not None else b""
    return HttpResponse(
        status, make_headers({k.replace("_", "-"): v for k, v in headers.items()}), content
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (201, Outcome.OK),
        (204, Outcome.OK),
        (400, Outcome.PERMANENT),
        (401, Outcome.AUTH),
        (403, Outcome.PERMANENT),
        (404, Outcome.PERMANENT),
        (408, Outcome.RETRY),
        (409, Outcome.CONFLICT),
        (412, Outcome.CONFLICT),
        (422, Outcome.PERMANENT),
        (429, Outcome.RATE_LIMITED),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.AMBIGUOUS),
    ],
)
def test_default_table(status: int, outcome: Outcome) -> None:
    assert DEFAULT_ERROR_TABLE.classify(response(status)).outcome is outcome


def test_transport_errors() -> None:
    not_sent = RequestNotSentError("refused", method="POST", url="u")
    ambiguous = AmbiguousRequestError("timeout", method="POST", url="u", timed_out=True)
    assert DEFAULT_ERROR_TABLE.classify_error(not_sent).outcome is Outcome.RETRY
    assert DEFAULT_ERROR_TABLE.classify_error(ambiguous).outcome is Outcome.AMBIGUOUS
    assert DEFAULT_ERROR_TABLE.classify_error(OSError("odd")).outcome is Outcome.AMBIGUOUS


def test_retry_after_in_seconds_or_http_date() -> None:
    clock = ManualClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC))
    table = ErrorTable(DEFAULT_ERROR_TABLE.rules, clock=clock)
    assert table.classify(response(429, Retry_After="2.0")).retry_after == 2.0
    dated = response(503, Retry_After="Sun, 01 Mar 2026 12:00:30 GMT")
    assert table.classify(dated).retry_after == 30.0
    shipstation = response(429, X_Rate_Limit_Reset="41", X_Rate_Limit_Remaining="0")
    assert table.classify(shipstation).retry_after == 41.0
    assert table.classify(response(429, Retry_After="soon")).retry_after is None


def test_connector_rules_come_first_and_match_codes_and_patterns() -> None:
    table = DEFAULT_ERROR_TABLE.extend(
        Rule(
            Outcome.RATE_LIMITED,
            status=403,
            codes={"REQUEST_LIMIT_EXCEEDED"},
            reason="daily API limit",
        ),
        Rule(Outcome.CONFLICT, codes={"Request_EntityChanged"}),
        Rule(Outcome.RETRY, codes={"Internal_*"}, status=range(400, 600)),
        Rule(Outcome.RATE_LIMITED, status=200, codes={"THROTTLED"}, retry_after=lambda r: 1.5),
    )
    salesforce = response(
        403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    )
    verdict = table.classify(salesforce)
    assert (verdict.outcome, verdict.reason, verdict.codes) == (
        Outcome.RATE_LIMITED,
        "daily API limit",
        ("REQUEST_LIMIT_EXCEEDED",),
    )
    bc_stale = response(400, {"error": {"code": "Request_EntityChanged", "message": "changed"}})
    assert table.classify(bc_stale).outcome is Outcome.CONFLICT
    bc_internal = response(400, {"error": {"code": "Internal_RecordNotFound", "message": "x"}})
    assert table.classify(bc_internal).outcome is Outcome.RETRY
    throttled = response(
        200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    )
    verdict = table.classify(throttled)
    assert (verdict.outcome, verdict.retry_after) == (Outcome.RATE_LIMITED, 1.5)
    assert (
        table.classify(response(403, [{"errorCode": "INSUFFICIENT_ACCESS"}])).outcome
        is Outcome.PERMANENT
    )


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({"error": "invalid_grant", "error_description": "expired"}, ("invalid_grant",)),
        ([{"message": "m", "errorCode": "INVALID_SESSION_ID"}], ("INVALID_SESSION_ID",)),
        (
            [{"id": None, "success": False, "errors": [{"statusCode": "DUPLICATE_VALUE"}]}],
            ("DUPLICATE_VALUE",),
        ),
        (
            {
                "type": "t",
                "status": 400,
                "o:errorDetails": [{"detail": "d", "o:errorCode": "USER_ERROR"}],
            },
            ("USER_ERROR",),
        ),
        ({"error": {"code": "BadRequest_NotFound", "message": "m"}}, ("BadRequest_NotFound",)),
        (
            {
                "data": {
                    "inventorySetQuantities": {
                        "userErrors": [{"code": "CHANGE_FROM_QUANTITY_STALE"}]
                    }
                }
            },
            ("CHANGE_FROM_QUANTITY_STALE",),
        ),
        ("plain text", ()),
    ],
)
def test_error_codes_from_real_shapes(body: object, codes: tuple[str, ...]) -> None:
    assert error_codes(body) == codes


@pytest.mark.parametrize(
    ("status", "exception", "base"),
    [
        (500, RetryLaterError, RetryableError),
        (429, RateLimitedError, RetryableError),
        (409, ConflictError, RetryableError),
        (400, PermanentFailureError, PermanentError),
        (401, AuthFailedError, PermanentError),
        (504, AmbiguousOutcomeError, Exception),
    ],
)
def test_verdicts_become_the_exceptions_workers_act_on(
    status: int, exception: type[Exception], base: type[Exception]
) -> None:
    error = DEFAULT_ERROR_TABLE.classify(
        response(status, {"error": "x"}, Retry_After="3")
    ).to_exception()
    assert isinstance(error, exception)
    assert isinstance(error, base)


def test_a_rule_needs_a_criterion_and_ok_has_no_exception() -> None:
    with pytest.raises(ValueError, match="rule needs"):
        Rule(Outcome.RETRY)
    with pytest.raises(ValueError, match="not a failure"):
        DEFAULT_ERROR_TABLE.classify(response(200)).to_exception()


def test_detail_is_bounded() -> None:
    verdict = DEFAULT_ERROR_TABLE.classify(response(400, {"message": "x" * 5000}))
    assert len(verdict.detail) == 500


def test_success_bodies_are_read_only_when_a_rule_looks_for_codes_in_them() -> None:
    ok = response(200, {"code": "SUMMER10", "value": "10.0"})
    assert DEFAULT_ERROR_TABLE.classify(ok).codes == ()
    graphql = DEFAULT_ERROR_TABLE.extend(
        Rule(Outcome.RATE_LIMITED, status=200, codes={"THROTTLED"})
    )
    assert graphql.classify(ok).codes == ("SUMMER10",)
    assert graphql.classify(ok).outcome is Outcome.OK
