"""The unsigned webhook: the secret token in the hook URL, and the inbox delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from crossdock.connectorkit.http import HttpClient, HttpRequest, HttpResponse, InProcessTransport
from crossdock.connectors.shipstation import (
    HOOK_TOKEN_HEADER,
    DecodeError,
    HookTokenRefusedError,
    HookTokens,
    ShipStationConnector,
    new_hook_token,
)

TOKEN = "tok-current-3f9a"
OLD_TOKEN = "tok-previous-77c1"


@pytest.fixture
async def connector() -> AsyncIterator[ShipStationConnector]:
    async def nothing(request: HttpRequest) -> HttpResponse:
        raise AssertionError(f"no HTTP call is expected, got {request.method} {request.url}")

    http = HttpClient(InProcessTransport.from_handler(nothing))
    yield ShipStationConnector(
        http=http, api_key="k", api_secret="s", hook_tokens=[TOKEN, OLD_TOKEN]
    )
    await http.aclose()


def test_tokens_accept_current_and_previous_and_refuse_others() -> None:
    tokens = HookTokens([TOKEN, OLD_TOKEN])

    tokens.check(TOKEN)
    tokens.check(OLD_TOKEN)
    with pytest.raises(HookTokenRefusedError, match="unknown") as refused:
        tokens.check("tok-guess")
    assert refused.value.status == 401
    with pytest.raises(HookTokenRefusedError, match="missing"):
        tokens.check(None)
    with pytest.raises(HookTokenRefusedError, match="missing"):
        tokens.check("")


def test_the_hook_url_ends_in_the_current_token() -> None:
    assert HookTokens([TOKEN]).url("https://hub.example/hooks/shipstation/") == (
        f"https://hub.example/hooks/shipstation/{TOKEN}"
    )
    with pytest.raises(ValueError, match="no hook token"):
        HookTokens([]).url("https://hub.example/hooks")
    assert len(new_hook_token()) >= 43
    assert TOKEN not in repr(HookTokens([TOKEN]))


async def test_verify_reads_the_token_the_ingress_passes(connector: ShipStationConnector) -> None:
    assert await connector.verify({HOOK_TOKEN_HEADER: TOKEN}, b"{}")
    assert not await connector.verify({HOOK_TOKEN_HEADER: "nope"}, b"{}")
    assert not await connector.verify({}, b"{}")


def test_an_unknown_token_stores_nothing(connector: ShipStationConnector) -> None:
    with pytest.raises(HookTokenRefusedError):
        connector.delivery("tok-guess", {}, b"{}")


def test_a_delivery_is_keyed_by_its_resource_url(
    connector: ShipStationConnector, raw_payload: Callable[[str], bytes]
) -> None:
    body = raw_payload("ship_notify.json")

    delivery = connector.delivery(
        TOKEN, {"Content-Type": "application/json", "X-Secret": "x"}, body, correlation_id="c"
    )

    assert delivery.source == "shipstation"
    assert delivery.dedupe_key == (
        "SHIP_NOTIFY:https://ssapi.shipstation.com/shipments?batchId=76543210"
        "&includeShipmentItems=False"
    )
    assert delivery.body == body
    assert delivery.headers == {"Content-Type": "application/json"}
    assert delivery.correlation_id == "c"


async def test_a_malformed_body_is_kept_then_refused_by_decode(
    connector: ShipStationConnector,
) -> None:
    delivery = connector.delivery(TOKEN, {}, b"<html>oops</html>")

    assert delivery.dedupe_key.startswith("malformed:")
    assert delivery.body == b"<html>oops</html>"
    with pytest.raises(DecodeError, match="not JSON"):
        await connector.decode(delivery)


async def test_decode_refuses_other_types_and_other_hosts(connector: ShipStationConnector):
    order_notice = (
        b'{"resource_url":"https://ssapi.shipstation.com/orders?importBatch=1",'
        b'"resource_type":"ORDER_NOTIFY"}'
    )
    forged = (
        b'{"resource_url":"https://evil.example/shipments?batchId=1","resource_type":"SHIP_NOTIFY"}'
    )

    with pytest.raises(DecodeError, match="lists no shipments"):
        await connector.decode(connector.delivery(TOKEN, {}, order_notice))
    with pytest.raises(DecodeError, match="refusing to send credentials"):
        await connector.decode(connector.delivery(TOKEN, {}, forged))
