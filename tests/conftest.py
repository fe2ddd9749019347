"""Shared test fixtures: real backing services that skip locally when absent and fail in CI."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from crossdock.connectorkit.http import AiohttpTransport, HttpClient

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

POSTGRES_URL = os.environ.get(
    "CROSSDOCK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("CROSSDOCK_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip the test when a service is down, or fail it when running in CI (`CI=true`)."""
    if _port_open(host, port):
        return
    reason = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason}, and CI must run every test", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> str:
    """The URL of the test PostgreSQL server (a skip, or a failure in CI, when it is down)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


@pytest.fixture
def nats_url() -> str:
    """The URL of the test NATS JetStream server (a skip, or a failure in CI, when it is down)."""
    require_service("NATS", "127.0.0.1", 4222)
    return NATS_URL


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    """The connector seam on a real aiohttp pool."""
    client = HttpClient(AiohttpTransport())
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def raw() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client for admin endpoints and calls that bypass the connector."""
    async with aiohttp.ClientSession() as session:
        yield session
