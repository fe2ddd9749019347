"""Exact JSON with Decimal, and secrets that never show themselves."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crossdock.connectorkit import Secret
from crossdock.connectorkit.auth import ApiTokenAuth, BasicAuth
from crossdock.connectorkit.http import HttpRequest, decode_json, encode_json


def test_decimal_is_written_as_an_exact_number() -> None:
    payload = {"a": Decimal("12.50"), "b": [Decimal("1E+2"), Decimal("-0.000001")], "c": "12.50"}
    text = encode_json(payload)
    assert text == b'{"a":12.50,"b":[1E+2,-0.000001],"c":"12.50"}'
    assert decode_json(text) == payload | {"b": [Decimal("1E+2"), Decimal("-0.000001")]}


def test_json_keeps_unicode_and_writes_datetimes() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (
        encode_json({"n": "Zoë", "t": when})
        == '{"n":"Zoë","t":"2026-01-02T03:04:05+00:00"}'.encode()
    )


def test_non_finite_decimals_and_unknown_types_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        encode_json({"x": Decimal("NaN")})
    with pytest.raises(TypeError, match="set"):
        encode_json({"x": {1, 2}})


def test_floats_never_appear_when_decoding() -> None:
    value = decode_json(b'{"x": 0.1, "y": 10}')
    assert isinstance(value["x"], Decimal)
    assert value["y"] == 10


def test_secret_hides_in_repr_str_format_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("shpat_abc123")
    assert "shpat" not in repr(secret) + str(secret) + f"{secret}" + f"{secret!r}"
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("token is %s", secret)
    assert "shpat" not in caplog.text
    assert secret.reveal() == "shpat_abc123"
    assert secret == Secret("shpat_abc123")
    assert secret != Secret("other")


async def test_simple_schemes_apply_and_hide_their_secrets() -> None:
    request = HttpRequest("GET", "https://ssapi.test/orders", 5.0)
    basic = BasicAuth("key", "very-secret")
    signed = await basic.apply(request)
    assert signed.header("authorization") == "Basic a2V5OnZlcnktc2VjcmV0"
    assert "very-secret" not in repr(basic)
    token = ApiTokenAuth("shpat_xyz")
    assert (await token.apply(request)).header("X-Shopify-Access-Token") == "shpat_xyz"
    assert "shpat_xyz" not in repr(token)
    assert not await token.on_unauthorized(request)
    assert not await basic.on_unauthorized(request)


async def test_a_signed_request_hides_its_credentials_in_repr() -> None:
    request = HttpRequest("GET", "https://x.test/a", 5.0, headers={"Accept": "application/json"})
    signed = await ApiTokenAuth("shpat_secret").apply(await BasicAuth("k", "pw").apply(request))
    text = repr(signed)
    assert "shpat_secret" not in text
    assert "Basic" not in text
    assert "application/json" in text
