"""A real hub for ingress tests: uvicorn on 127.0.0.1 port 0, SQLite in tmp_path, Shopify."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psycopg
import pytest

from crossdock.api import IngressSettings
from crossdock.backbone import InboxItem, InboxStatus, SqlStore
from crossdock.backbone.postgres import PostgresStore
from crossdock.canonical import registry
from crossdock.connectorkit import sign_hmac
from crossdock.governance import parse_governance
from crossdock.hub import Hub

SECRET = "whsec-test-not-a-real-secret"
SHOP = "acme-test.myshopify.com"
MAX_BODY = 64 * 1024
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "shopify"
ORDER_1043 = FIXTURES / "orders_create_1043_usd_taxes_added.json"


def governance_text(database: Path) -> str:
    """A governance file with one Shopify system named ``shop`` and the store in `database`."""
    lines = [
        "[hub]",
        'name = "ingress-test"',
        f'database_url = "sqlite:///{database}"',
        'api_host = "127.0.0.1"',
        "api_port = 0",
        "",
        "[systems.shop]",
        'kind = "shopify"',
        f'base_url = "https://{SHOP}"',
        'api_version = "2026-01"',
        'credentials.webhook_secret = "env:TEST_SHOP_WEBHOOK_SECRET"',
        f'settings.shop_domain = "{SHOP}"',
        "",
        "[systems.erp]",
        'kind = "netsuite"',
        'base_url = "https://1234567.suitetalk.api.netsuite.com"',
    ]
    for entity in registry.ENTITY_NAMES:
        lines += ["", f"[ownership.{entity}]", 'default_owner = "erp"']
    return "\n".join(lines) + "\n"


def shopify_headers(
    body: bytes, *, event_id: str, topic: str = "orders/create", secret: str = SECRET
) -> dict[str, str]:
    """The headers Shopify sends with a delivery, signed with `secret`."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_hmac(body, secret),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-01",
        "X-Shopify-Webhook-Id": f"wh-{event_id}",
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": "2026-11-27T10:00:00Z",
    }


@contextlib.asynccontextmanager
async def running_hub(tmp_path: Path, store: SqlStore | None = None) -> AsyncIterator[Hub]:
    """A started hub on `store` (default: the SQLite file its governance names)."""
    governance = parse_governance(governance_text(tmp_path / "hub.db"))
    running = Hub(
        governance,
        store=store,
        environ={"TEST_SHOP_WEBHOOK_SECRET": SECRET},
        ingress=IngressSettings(max_body_bytes=MAX_BODY, retry_after_seconds=2),
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Hub]:
    """A started hub on each backend in turn (PostgreSQL in a unique schema, dropped after)."""
    if request.param == "sqlite":
        async with running_hub(tmp_path) as started:
            yield started
        return
    url: str = request.getfixturevalue("postgres_url")
    schema = f"cdapi_{uuid.uuid4().hex[:16]}"
    store = PostgresStore(url, schema=schema)
    await store.start()
    try:
        async with running_hub(tmp_path, store) as started:
            yield started
    finally:
        await store.close()
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE".encode())


@pytest.fixture
async def sqlite_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A started hub on SQLite only (for SQLite's own faults)."""
    async with running_hub(tmp_path) as started:
        yield started


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


def store_of(hub: Hub) -> SqlStore:
    """The running hub's store."""
    assert hub.store is not None
    return hub.store


async def all_inbox(store: SqlStore) -> list[InboxItem]:
    """Every inbox row, whatever its status.

    The decode worker may move a row between two of the reads, so rows are keyed by id.
    """
    rows: dict[int, InboxItem] = {}
    for status in InboxStatus:
        rows |= {row.inbox_id: row for row in await store.list_inbox(status, limit=10_000)}
    return list(rows.values())


async def settled(store: SqlStore, inbox_id: int) -> InboxItem:
    """Wait until the decode worker settles an inbox row (the test timeout bounds the wait)."""
    while True:
        item = await store.get_inbox(inbox_id)
        assert item is not None
        if item.status is not InboxStatus.RECEIVED:
            return item
        await asyncio.sleep(0.02)
