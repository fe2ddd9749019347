"""The connector base class: handler registry, override points, in-process transport."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from crossdock.backbone.store import Command, Delivery
from crossdock.canonical.envelope import Event
from crossdock.connectorkit import Connector, Secret, handles, sign_hmac, verify_hmac
from crossdock.connectorkit.auth import ApiTokenAuth
from crossdock.connectorkit.http import (
    HttpClient,
    HttpRequest,
    HttpResponse,
    InProcessTransport,
    RequestNotSentError,
    encode_json,
    make_headers,
)


class Shopish(Connector):
    system = "shopish"
    base_url = "https://acme.shopish.test/admin/api/2025-07"
    secrets = (Secret("old"), Secret("new"))

    @handles("inventory.set")
    async def set_inventory(self, command: Command) -> dict[str, Any]:
        response = await self.call("POST", "inventory_levels/set.json", json=command.payload)
        return dict(response.json()["inventory_level"])

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        return verify_hmac(raw_body, headers.get("X-Shopify-Hmac-Sha256"), self.secrets)

    async def decode(self, delivery: Delivery) -> list[Event]:
        return [Event(source=delivery.source, type="inventory.changed", correlationid="c")]


class Child(Shopish):
    @handles("product.update")
    async def update_product(self, command: Command) -> dict[str, Any]:
        return {"updated": True}


async def handler(request: HttpRequest) -> HttpResponse:
    assert request.header("x-shopify-access-token") == "shpat_1"
    body = {
        "inventory_level": {
            "path": request.url.split("/admin")[1],
            "sent": request.content.decode() if request.content else "",
        }
    }
    return HttpResponse(200, make_headers({"Content-Type": "application/json"}), encode_json(body))


@pytest.fixture
def connector() -> Shopish:
    transport = InProcessTransport.from_handler(handler, hosts={"acme.shopish.test"})
    return Shopish(
        http=HttpClient(transport), auth=ApiTokenAuth("shpat_1"), destination="shopish:acme"
    )


async def test_handlers_are_registered_per_class_and_inherited(connector: Shopish) -> None:
    assert set(Shopish.handlers) == {"inventory.set"}
    assert set(Child.handlers) == {"inventory.set", "product.update"}
    assert Shopish.handlers["inventory.set"].idempotent
    result = await connector.perform(
        Command(
            idempotency_key="k",
            destination="shopish:acme",
            kind="inventory.set",
            payload={"available": 3},
        )
    )
    assert result == {"path": "/api/2025-07/inventory_levels/set.json", "sent": '{"available":3}'}


def test_a_non_idempotent_handler_requires_settle_ambiguous() -> None:
    with pytest.raises(TypeError, match="settle_ambiguous"):

        class Careless(Connector):
            @handles("order.create", idempotent=False)
            async def create(self, command: Command) -> dict[str, Any]:
                return {}


async def test_verify_and_decode_are_the_inbound_override_points(connector: Shopish) -> None:
    body = b'{"inventory_item_id":1,"available":4}'
    assert await connector.verify({"X-Shopify-Hmac-Sha256": sign_hmac(body, "new")}, body)
    assert not await connector.verify({"X-Shopify-Hmac-Sha256": sign_hmac(body, "other")}, body)
    events = await connector.decode(Delivery(source="shopish:acme", dedupe_key="d", body=body))
    assert [e.type for e in events] == ["inventory.changed"]


async def test_defaults_refuse_what_a_connector_does_not_do() -> None:
    class Outbound(Connector):
        system = "outbound"

    plain = Outbound(http=HttpClient(InProcessTransport.from_handler(handler)))
    with pytest.raises(NotImplementedError, match="no deliveries"):
        await plain.verify({}, b"")
    with pytest.raises(NotImplementedError):
        await plain.decode(Delivery(source="s", dedupe_key="d", body=b""))
    assert "outbound" in repr(plain)


async def test_in_process_routes_only_its_hosts(connector: Shopish) -> None:
    with pytest.raises(RequestNotSentError):
        await connector.http.request("GET", "https://other.test/x")


async def test_an_app_that_raises_timeout_itself_is_a_500_not_a_deadline() -> None:
    async def raises(request: HttpRequest) -> HttpResponse:
        raise TimeoutError("the app's own timeout")

    client = HttpClient(InProcessTransport.from_handler(raises), default_timeout=5)
    assert (await client.request("GET", "http://any.test/x")).status == 500
