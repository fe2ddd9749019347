"""A test connector of our own (a real `Connector` subclass) and an API on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from crossdock.backbone import Delivery
from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.connectorkit import Connector, RetryLaterError, Secret, sign_hmac, verify_hmac
from crossdock.connectorkit.http import HttpClient
from crossdock.hub import ConnectorInbound

SIGNING_SECRET = "unit-test-signing-secret"
URL_TOKEN = "unit-test-url-token"


class ParcelConnector(Connector):
    """A small webhook sender: HMAC in ``X-Parcel-Signature`` (hex), JSON ``{"id", "status"}``.

    ``{"retry": true}`` makes decoding fail as retryable; ``{"quarantine": ...}`` raises a
    quarantine with a difference.
    """

    system = "parcel"

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        signature = {k.lower(): v for k, v in headers.items()}.get("x-parcel-signature")
        return verify_hmac(raw_body, signature, [SIGNING_SECRET], encoding="hex")

    async def decode(self, delivery: Delivery) -> list[Event]:
        data = json.loads(delivery.body)
        if data.get("retry"):
            raise RetryLaterError("the lookup this decoding needs timed out")
        if "quarantine" in data:
            raise ParcelQuarantined(data["quarantine"])
        return [
            Event(
                source="parcel",
                type="shipment.updated",
                subject=f"parcel:{data['id']}",
                correlationid=delivery.correlation_id,
                data={"status": data["status"]},
            )
        ]


class ParcelQuarantined(Exception):  # noqa: N818 - the name says the outcome
    """A parcel delivery whose figures disagree."""

    def __init__(self, difference: str) -> None:
        super().__init__("weights disagree")
        self.difference = difference


def parcel_signature(body: bytes) -> dict[str, str]:
    """The signature header of `body`."""
    return {"X-Parcel-Signature": sign_hmac(body, SIGNING_SECRET, encoding="hex")}


def parcel_id(headers: Mapping[str, str], body: bytes) -> str:
    """The dedupe key: the body's ``id``."""
    return f"parcel:{json.loads(body)['id']}"


@pytest.fixture
def signed(http: HttpClient) -> ConnectorInbound:
    """The parcel system, signed (``/hooks/parcel``)."""
    return ConnectorInbound(
        name="parcel",
        connector=ParcelConnector(http=http),
        dedupe=parcel_id,
        keep_prefixes=("x-parcel-",),
    )


@pytest.fixture
def tokened(http: HttpClient) -> ConnectorInbound:
    """The same sender, unsigned, with a secret token in the URL (like ShipStation V1)."""
    return ConnectorInbound(
        name="wms",
        connector=ParcelConnector(http=http),
        dedupe=parcel_id,
        url_token=Secret(URL_TOKEN),
        signed=False,
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    """A started SQLite store in tmp_path."""
    opened = SQLiteStore(tmp_path / "unit.db")
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()
