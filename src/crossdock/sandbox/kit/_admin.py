"""The ``/_sandbox`` admin endpoints every simulator has: faults, effects, requests, webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from crossdock.sandbox.kit._faults import FaultSpec
from crossdock.sandbox.kit._json import json_response
from crossdock.sandbox.kit._webhooks import ChaosSpec

if TYPE_CHECKING:
    from crossdock.sandbox.kit._simulator import Simulator

_M = TypeVar("_M", bound=BaseModel)


class FaultRequest(FaultSpec):
    """The body of ``POST /_sandbox/faults``: the call faults, plus optional webhook chaos."""

    webhooks: ChaosSpec | None = None


class SubscriptionRequest(BaseModel):
    """The body of ``POST /_sandbox/webhooks``."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=1)
    topics: list[str] | None = None
    name: str | None = None


def _no_webhooks(sim: Simulator) -> Response:
    return json_response({"error": f"{sim.system} sends no webhooks"}, 404)


async def _parse(request: Request, model: type[_M]) -> _M | Response:
    body = await request.body()
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return json_response({"error": "invalid body", "details": errors}, 400)


def admin_router(sim: Simulator) -> APIRouter:
    """The admin routes of ``sim``, bound to it."""
    router = APIRouter(prefix="/_sandbox")

    @router.get("/health")
    async def health() -> Response:
        return json_response({"system": sim.system, "ok": True, "seed": sim.seed})

    @router.get("/faults")
    async def get_faults() -> Response:
        return json_response(_faults_view(sim))

    @router.post("/faults")
    async def set_faults(request: Request) -> Response:
        parsed = await _parse(request, FaultRequest)
        if isinstance(parsed, Response):
            return parsed
        sim.faults.configure(FaultSpec.model_validate(parsed.model_dump(exclude={"webhooks"})))
        if parsed.webhooks is not None:
            if sim.webhooks is None:
                return _no_webhooks(sim)
            sim.webhooks.configure_chaos(parsed.webhooks, seed=parsed.seed)
        return json_response(_faults_view(sim))

    @router.delete("/faults")
    async def clear_faults() -> Response:
        sim.faults.clear()
        if sim.webhooks is not None:
            sim.webhooks.configure_chaos(ChaosSpec())
        return json_response(_faults_view(sim))

    @router.get("/effects")
    async def effects(kind: str | None = None, key: str | None = None) -> Response:
        return json_response({"system": sim.system, "effects": sim.effects.report(kind, key)})

    @router.get("/requests")
    async def requests(limit: int | None = None, path_prefix: str | None = None) -> Response:
        return json_response({"requests": sim.requests.as_json(limit, path_prefix)})

    @router.post("/reset")
    async def reset() -> Response:
        sim.reset()
        return json_response({"system": sim.system, "reset": True})

    @router.get("/webhooks")
    async def subscriptions() -> Response:
        if sim.webhooks is None:
            return _no_webhooks(sim)
        return json_response({"subscriptions": [s.as_json() for s in sim.webhooks.subscriptions]})

    @router.post("/webhooks")
    async def subscribe(request: Request) -> Response:
        if sim.webhooks is None:
            return _no_webhooks(sim)
        parsed = await _parse(request, SubscriptionRequest)
        if isinstance(parsed, Response):
            return parsed
        sub = sim.webhooks.subscribe(parsed.address, parsed.topics, parsed.name)
        return json_response({"subscription": sub.as_json()}, 201)

    @router.delete("/webhooks/{subscription_id}")
    async def unsubscribe(subscription_id: int) -> Response:
        if sim.webhooks is None:
            return _no_webhooks(sim)
        found = sim.webhooks.unsubscribe(subscription_id)
        return json_response({"deleted": found}, 200 if found else 404)

    @router.get("/deliveries")
    async def deliveries() -> Response:
        if sim.webhooks is None:
            return _no_webhooks(sim)
        return json_response(
            {
                "pending": sim.webhooks.pending,
                "deliveries": [d.as_json() for d in sim.webhooks.deliveries],
                "attempts": sim.webhooks.attempts_json(),
            }
        )

    @router.post("/deliveries/drain")
    async def drain(timeout_s: float = 30.0) -> Response:
        if sim.webhooks is None:
            return _no_webhooks(sim)
        try:
            await sim.webhooks.drain(timeout_s)
        except TimeoutError:
            return json_response({"drained": False, "pending": sim.webhooks.pending}, 504)
        return json_response({"drained": True, "pending": 0})

    return router


def _faults_view(sim: Simulator) -> dict[str, object]:
    view: dict[str, object] = {"system": sim.system, "faults": sim.faults.describe()}
    if sim.webhooks is not None:
        view["webhooks"] = sim.webhooks.chaos.model_dump()
    return view
