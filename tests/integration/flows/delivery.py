"""What the flow tests share: performing a destination's commands as the hub's worker would."""

from __future__ import annotations

from collections.abc import Mapping

from crossdock.backbone.store import Command, JSONObject, Store
from crossdock.canonical.commands import result_event

ROLES = {
    "netsuite": "erp",
    "salesforce": "crm",
    "shipstation": "warehouse",
    "edi_3pl": "warehouse",
    "easypost": "tracking",
    "shopify": "channel",
}
"""The role each system of the test governance plays (picks the result event's type)."""


async def deliver(
    store: Store, destination: str, results: Mapping[str, JSONObject]
) -> list[Command]:
    """Claim every pending command of `destination`; complete it with its result event.

    A command's result is ``results[kind]``, else ``{"ok": True}``.
    """
    done: list[Command] = []
    while claims := await store.claim("test-worker", destinations=[destination], limit=10):
        for claim in claims:
            command = claim.command
            result = results.get(command.kind, {"ok": True})
            event = result_event(
                kind=command.kind,
                role=ROLES[destination],
                destination=destination,
                idempotency_key=command.idempotency_key,
                payload=command.payload,
                result=result,
                correlation_id=command.correlation_id,
            )
            await store.complete(claim, result, result_events=[event])
            done.append(command)
    return done


async def status(store: Store, key: str) -> str:
    """The order flow instance's state name."""
    found = await store.get_flow_state("order_fulfilment", key)
    assert found is not None
    return str(found.state["state"]["status"])
