"""Replay of recorded event histories through the order flow on a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from crossdock.backbone.sqlite import SQLiteStore
from crossdock.canonical.envelope import Event
from crossdock.flows.engine import FlowRunner, StepOutcome
from crossdock.flows.order_fulfilment import (
    OrderFulfilment,
    OrderFulfilmentSettings,
    StaticAvailability,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "flows"

Replay = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def histories() -> list[Path]:
    """The recorded histories (every ``*.json`` that is not a golden)."""
    return sorted(p for p in FIXTURES.glob("*.json") if not p.name.endswith(".golden.json"))


def _outcome(outcome: StepOutcome) -> dict[str, Any]:
    return {
        "flow": outcome.flow,
        "key": outcome.key,
        "outcome": outcome.outcome,
        "reason": outcome.reason,
        "commands": [
            {
                "idempotency_key": c.idempotency_key,
                "destination": c.destination,
                "kind": c.kind,
                "partition_key": c.partition_key,
                "payload": c.payload,
            }
            for c in outcome.commands
        ],
        "events": [
            {"id": e.id, "type": e.type, "subject": e.subject, "data": e.data}
            for e in outcome.events
        ],
    }


@pytest.fixture
def replay(tmp_path: Path) -> Replay:
    """Return a function replaying one history document into a transcript (JSON data)."""

    runs = [0]

    async def run(history: dict[str, Any]) -> dict[str, Any]:
        runs[0] += 1
        store = SQLiteStore(tmp_path / f"replay-{runs[0]}.db")
        await store.start()
        try:
            for canonical_id, system, external_id in history.get("links", []):
                await store.link(canonical_id, system, external_id)
            availability = StaticAvailability(history["availability"])
            flow = OrderFulfilment(
                OrderFulfilmentSettings.from_dict(history["settings"]), availability
            )
            restocks: dict[str, dict[str, int]] = history.get("restock", {})
            runner = FlowRunner(store, [flow])
            steps = []
            keys: list[str] = []
            for raw in history["events"]:
                event = Event.model_validate(raw)
                availability.levels.update(restocks.get(event.id, {}))
                await store.append_events(event)
                await runner.run_until_idle()
                outcomes = [o for o in runner.outcomes if o.outcome != "ignored"]
                for o in outcomes:
                    if o.key is not None and o.key not in keys:
                        keys.append(o.key)
                statuses = {}
                for o in outcomes:
                    if o.key is not None:
                        found = await store.get_flow_state(flow.name, o.key)
                        statuses[o.key] = None if found is None else found.state["state"]["status"]
                steps.append(
                    {
                        "event": {"type": event.type, "source": event.source, "id": event.id},
                        "outcomes": [_outcome(o) for o in outcomes],
                        "status_after": statuses,
                    }
                )
            final = {}
            for key in keys:
                found = await store.get_flow_state(flow.name, key)
                if found is not None:
                    inner = found.state["state"]
                    final[key] = {
                        "status": inner["status"],
                        "reason": inner.get("reason"),
                        "history": inner["history"],
                        "ids": inner["ids"],
                    }
            transcript = {"steps": steps, "final": final}
            normalised: dict[str, Any] = json.loads(json.dumps(transcript, default=str))
            return normalised
        finally:
            await store.close()

    return run
