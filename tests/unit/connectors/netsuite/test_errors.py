"""NetSuite's error table on real-shaped error bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossdock.connectorkit import Outcome
from crossdock.connectorkit.http import HttpResponse, make_headers
from crossdock.connectors.netsuite import (
    LOOKUP_TABLE,
    NETSUITE_ERROR_TABLE,
    describe_error,
    error_details,
)

PAYLOADS = Path(__file__).resolve().parents[3] / "fixtures" / "payloads" / "netsuite"
ERROR_TYPE = "application/vnd.oracle.resource+json; type=error"


def response(status: int, fixture: str | None = None) -> HttpResponse:
    body = (PAYLOADS / fixture).read_bytes() if fixture else b""
    return HttpResponse(status, make_headers({"Content-Type": ERROR_TYPE}), body)


@pytest.mark.parametrize(
    ("status", "fixture", "outcome", "code"),
    [
        (401, "error_invalid_login.json", Outcome.AUTH, "INVALID_LOGIN"),
        (400, "error_invalid_value_item.json", Outcome.PERMANENT, "INVALID_VALUE"),
        (400, "error_idempotency.json", Outcome.CONFLICT, "IDEMPOTENCY_ERROR"),
        (404, "error_nonexistent_id.json", Outcome.PERMANENT, "NONEXISTENT_ID"),
        (429, None, Outcome.RATE_LIMITED, None),
        (500, None, Outcome.RETRY, None),
        (503, None, Outcome.RETRY, None),
    ],
)
def test_the_table_classifies_netsuite_errors(
    status: int, fixture: str | None, outcome: Outcome, code: str | None
) -> None:
    verdict = NETSUITE_ERROR_TABLE.classify(response(status, fixture))
    assert verdict.outcome is outcome
    assert verdict.codes == ((code,) if code else ())


def test_a_lookup_treats_nonexistent_id_as_an_answer() -> None:
    verdict = LOOKUP_TABLE.classify(response(404, "error_nonexistent_id.json"))
    assert verdict.outcome is Outcome.OK
    assert LOOKUP_TABLE.classify(response(401, "error_invalid_login.json")).outcome is Outcome.AUTH


def test_error_details_are_described_with_code_and_path() -> None:
    from crossdock.connectorkit.http import decode_json

    body = decode_json((PAYLOADS / "error_invalid_value_item.json").read_bytes())
    assert [d["o:errorCode"] for d in error_details(body)] == ["INVALID_VALUE"]
    text = describe_error(body)
    assert text.startswith("INVALID_VALUE: Invalid value for field item.items[0].item")
    assert text.endswith("(at item.items[0].item)")
    assert describe_error({"unexpected": True}) == ""
    assert error_details([1, 2]) == []
