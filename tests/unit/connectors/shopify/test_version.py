"""The pinned API version: retirement 12 months after release, warning within 90 days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from structlog.testing import capture_logs

from crossdock.connectorkit.http import HttpClient, HttpRequest, HttpResponse, InProcessTransport
from crossdock.connectors.shopify import (
    ApiVersionError,
    ShopifyConnector,
    ShopifySettings,
    VersionState,
    check_api_version,
    retirement_date,
    version_status,
)
from crossdock.observability.logging import get_logger
from crossdock.runtime.clock import ManualClock


@pytest.mark.parametrize(
    ("version", "retires"),
    [
        ("2026-01", date(2027, 1, 1)),
        ("2026-04", date(2027, 4, 1)),
        ("2025-10", date(2026, 10, 1)),
    ],
)
def test_a_version_retires_twelve_months_after_release(version: str, retires: date) -> None:
    assert retirement_date(version) == retires


@pytest.mark.parametrize("bad", ["2026-02", "unstable", "2026-1", "26-01", ""])
def test_a_non_stable_version_is_refused(bad: str) -> None:
    with pytest.raises(ApiVersionError):
        retirement_date(bad)


@pytest.mark.parametrize(
    ("now", "state", "days_left"),
    [
        (datetime(2026, 10, 2, 23, 0, tzinfo=UTC), VersionState.SUPPORTED, 91),
        (datetime(2026, 10, 3, tzinfo=UTC), VersionState.RETIRING, 90),
        (datetime(2026, 12, 31, tzinfo=UTC), VersionState.RETIRING, 1),
        (datetime(2027, 1, 1, tzinfo=UTC), VersionState.RETIRED, 0),
        (datetime(2027, 3, 1, tzinfo=UTC), VersionState.RETIRED, -59),
    ],
)
def test_the_status_follows_the_clock(now: datetime, state: VersionState, days_left: int) -> None:
    status = version_status("2026-01", now)
    assert status.state is state
    assert status.days_left == days_left


def test_a_retiring_version_logs_a_warning_and_a_retired_one_an_error() -> None:
    clock = ManualClock(datetime(2026, 11, 27, tzinfo=UTC))
    logger = get_logger("test")
    with capture_logs() as logs:
        supported = check_api_version("2026-10", clock, logger)
        retiring = check_api_version("2026-01", clock, logger)
        retired = check_api_version("2025-10", clock, logger)
    assert supported.state is VersionState.SUPPORTED
    assert retiring.state is VersionState.RETIRING
    assert retired.state is VersionState.RETIRED
    assert [(entry["log_level"], entry["event"]) for entry in logs] == [
        ("warning", "shopify.api_version.retiring"),
        ("error", "shopify.api_version.retired"),
    ]
    assert logs[0]["days_left"] == 35
    assert "retires on 2027-01-01" in logs[0]["message"]


async def test_the_connector_checks_its_pinned_version_on_the_clock() -> None:
    async def unused(request: HttpRequest) -> HttpResponse:
        raise AssertionError("no call expected")

    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    http = HttpClient(InProcessTransport.from_handler(unused))
    with capture_logs() as logs:
        connector = ShopifyConnector(
            ShopifySettings("acme.myshopify.com", api_version="2026-01"),
            http=http,
            clock=clock,
            logger=get_logger("test"),
        )
        assert connector.version_status.state is VersionState.SUPPORTED
        clock.advance(200 * 86400)  # 2026-12-18
        assert connector.check_version().state is VersionState.RETIRING
    assert [entry["event"] for entry in logs] == ["shopify.api_version.retiring"]
    await http.aclose()
