"""`ConnectorInbound` (URL token, signature, kept headers, dedupe) and correlation ids."""

from __future__ import annotations

import json

import pytest

from crossdock.api.correlation import accepted_correlation_id
from crossdock.connectorkit.http import HttpClient
from crossdock.hub import ConnectorInbound, dead_reason

from .conftest import URL_TOKEN, ParcelConnector, ParcelQuarantined, parcel_id, parcel_signature

BODY = json.dumps({"id": 7, "status": "in_transit"}).encode()


async def test_a_signed_system_checks_the_signature_over_the_raw_bytes(
    signed: ConnectorInbound,
) -> None:
    assert await signed.verify(parcel_signature(BODY), BODY, None)
    assert not await signed.verify(parcel_signature(BODY), BODY + b"\n", None)
    assert not await signed.verify({}, BODY, None)


async def test_an_unsigned_system_checks_the_url_token_in_constant_time(
    tokened: ConnectorInbound,
) -> None:
    assert await tokened.verify({}, BODY, URL_TOKEN)
    assert not await tokened.verify({}, BODY, URL_TOKEN + "x")
    assert not await tokened.verify({}, BODY, None)


def test_an_unsigned_system_without_a_token_is_refused(http: HttpClient) -> None:
    with pytest.raises(ValueError, match="URL token"):
        ConnectorInbound(
            name="wms", connector=ParcelConnector(http=http), dedupe=parcel_id, signed=False
        )


def test_kept_headers_are_the_named_ones_and_never_credentials(signed: ConnectorInbound) -> None:
    headers = {
        "X-Parcel-Signature": "abc",
        "Content-Type": "application/json",
        "Authorization": "Basic c2VjcmV0",
        "Cookie": "session=1",
        "User-Agent": "parcel/1",
    }
    assert signed.kept_headers(headers) == {
        "x-parcel-signature": "abc",
        "content-type": "application/json",
    }


def test_a_body_without_an_id_has_no_dedupe_key(signed: ConnectorInbound) -> None:
    assert signed.dedupe_key({}, BODY) == "parcel:7"
    assert signed.dedupe_key({}, b"not json") is None


def test_a_well_formed_correlation_id_is_kept_and_anything_else_replaced() -> None:
    assert accepted_correlation_id("order-1042:abc_DEF.9") == "order-1042:abc_DEF.9"
    for bad in (None, "", "has space", "x" * 129, 'quote"', "new\nline"):
        made = accepted_correlation_id(bad)
        assert made != bad
        assert accepted_correlation_id(made) == made


def test_a_quarantine_keeps_its_difference_and_other_errors_their_class() -> None:
    assert dead_reason(ParcelQuarantined("0.10 USD")) == (
        "quarantined",
        "quarantined: weights disagree (difference 0.10 USD)",
    )
    assert dead_reason(KeyError("id")) == ("dead", "KeyError: 'id'")
    outcome, reason = dead_reason(ValueError("x" * 5000))
    assert outcome == "dead"
    assert len(reason) == 2000
