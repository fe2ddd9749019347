"""Business Central's own error cases, beyond the kit's battery (test_battery.py).

408 and 504 on a read, unknown records and unsupported queries, a taken customer number
settled by lookup, and an unreachable host.
"""

from __future__ import annotations

import aiohttp
import pytest

from crossdock.backbone.store import Command
from crossdock.connectorkit import (
    PermanentFailureError,
    RetryLaterError,
)
from crossdock.connectors.businesscentral import (
    UPSERT_CUSTOMER,
    BusinessCentralConnector,
)
from crossdock.sandbox.businesscentral import BusinessCentralSimulator
from crossdock.sandbox.kit import RunningServer

from .conftest import ConnectorFactory, admin


@pytest.mark.parametrize("status", [408, 504])
async def test_a_timeout_status_on_a_read_is_resent_safely(
    connector: BusinessCentralConnector,
    raw: aiohttp.ClientSession,
    server: RunningServer,
    status: int,
) -> None:
    await connector.companies()
    await admin(raw, server, "faults", {"error_rate": 1.0, "error_status": status})

    with pytest.raises(RetryLaterError, match="idempotent, safe to resend"):
        await connector.companies()


async def test_an_unknown_order_is_permanent(connector: BusinessCentralConnector) -> None:
    with pytest.raises(PermanentFailureError, match="Internal_RecordNotFound"):
        await connector.get_sales_order("00000000-0000-0000-0000-00000000dead")


async def test_an_unsupported_filter_is_permanent(connector: BusinessCentralConnector) -> None:
    with pytest.raises(PermanentFailureError, match="BadRequest") as refused:
        await connector.get_all(
            f"{connector.company_path}/customers", {"$filter": "contains(displayName,'A')"}
        )
    assert refused.value.classification is not None
    assert refused.value.classification.status == 400


async def test_a_taken_customer_number_is_settled_by_lookup(
    connector: BusinessCentralConnector,
    sim: BusinessCentralSimulator,
    raw: aiohttp.ClientSession,
    server: RunningServer,
) -> None:
    # Another user inserts C00077 between our lookup and our POST.
    await admin(
        raw,
        server,
        "businesscentral/race-customer",
        {"number": "C00077", "displayName": "Northwind (theirs)"},
    )
    payload = {"number": "C00077", "display_name": "Northwind"}

    result = await connector.perform(Command("c:race", "businesscentral", UPSERT_CUSTOMER, payload))

    assert result["created"] is False
    assert sim.company.customer_by(number="C00077").data["displayName"] == "Northwind"
    assert len([c for c in sim.company.customers.values() if c.data["number"] == "C00077"]) == 1
    posts = [r.status for r in sim.requests.recent(path_prefix="/v2.0") if r.method == "POST"]
    assert posts == [400]
    effects = sim.effects.get("customer", "C00077")
    assert effects is not None
    assert (effects.attempts, effects.created, effects.duplicates_refused) == (1, 0, 1)


async def test_an_unreachable_host_is_retried(make_connector: ConnectorFactory) -> None:
    connector = make_connector(base_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/t")

    with pytest.raises(RetryLaterError, match="unreachable"):
        await connector.companies()
