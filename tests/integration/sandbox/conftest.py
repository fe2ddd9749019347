"""A small simulator ("widgets") exercising the kit, and a webhook receiver, on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from crossdock.sandbox.kit import (
    Base64HmacSha256Signer,
    LeakyBucket,
    RetrySchedule,
    RunningServer,
    Scenario,
    Simulator,
    SimulatorHTTPError,
    WebhookSender,
    json_response,
    serve,
)

TOKEN = "widget-token"
SECRET = "widget-secret"


class WidgetSimulator(Simulator):
    """Widgets keyed by ``key``: create refuses a duplicate key, an Idempotency-Key replays."""

    system = "widgets"

    def default_scenario(self) -> Scenario:
        return Scenario(seed=7, data={"widgets": [{"key": "seeded", "name": "Seeded"}]})

    def seed_state(self, scenario: Scenario) -> None:
        self.widgets: dict[str, dict[str, Any]] = {w["key"]: w for w in scenario.data["widgets"]}
        self.replays: dict[str, dict[str, Any]] = {}
        self.bucket = LeakyBucket(capacity=5, leak_per_s=0.5)

    def make_webhook_sender(self) -> WebhookSender:
        return WebhookSender(
            Base64HmacSha256Signer(SECRET, header="X-Widget-Hmac"),
            RetrySchedule.exponential(3, 0.7, time_scale=0.1),
            headers=lambda d: {"X-Widget-Topic": d.topic, "X-Widget-Delivery": d.webhook_id},
            seed=self.seed,
            timeout_s=2.0,
        )

    async def authenticate(self, request: Request) -> None:
        if request.headers.get("x-token") != TOKEN:
            raise SimulatorHTTPError(json_response({"problem": "bad token"}, 401))

    async def rate_limit(self, request: Request) -> None:
        taken = self.bucket.take(factor=self.faults.throttle_factor)
        self.add_response_header(request, "X-Bucket", f"{taken.used:g}/{taken.capacity:g}")
        if not taken.allowed:
            raise SimulatorHTTPError(
                json_response(
                    {"problem": "slow down"}, 429, {"Retry-After": f"{taken.retry_after_s:.1f}"}
                )
            )

    def error_response(self, status: int) -> Response:
        return json_response({"problem": "injected", "status": status}, status)

    def credentials(self) -> dict[str, Any]:
        return {"token": TOKEN, "webhook_secret": SECRET, "widgets_url": "{base_url}/widgets"}

    def register_routes(self, app: FastAPI) -> None:
        @app.get("/widgets", dependencies=[Depends(self.guard)])
        async def list_widgets() -> Response:
            return json_response({"widgets": list(self.widgets.values())})

        @app.post("/widgets", dependencies=[Depends(self.guard)])
        async def create_widget(request: Request) -> Response:
            body = json.loads(await request.body())
            key = body["key"]
            self.effects.attempt("widget", key)
            replay_key = request.headers.get("idempotency-key")
            if replay_key and replay_key in self.replays:
                self.effects.absorbed("widget", key)
                return json_response(self.replays[replay_key], 201)
            if key in self.widgets:
                self.effects.refused("widget", key)
                return json_response({"problem": "key taken"}, 422)
            self.widgets[key] = body
            self.effects.created("widget", key, state="active")
            if replay_key:
                self.replays[replay_key] = body
            if self.webhooks is not None:
                self.webhooks.emit("widget/created", json.dumps(body).encode())
            return json_response(body, 201)


@dataclass
class Receiver:
    """A webhook receiver on loopback that records what it got and can fail on purpose."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    calls: int = 0

    def verify(self, body: bytes, signature: str) -> bool:
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Any) -> Response:
        body = await request.body()
        state.calls += 1
        if state.calls <= state.fail_first:
            return Response(status_code=500)
        state.received.append(
            {
                "body": json.loads(body),
                "delivery": request.headers["x-widget-delivery"],
                "topic": request.headers["x-widget-topic"],
                "signed": state.verify(body, request.headers["x-widget-hmac"]),
            }
        )
        return Response(status_code=200)

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as running:
        state.url = f"{running.base_url}/hook"
        yield state


@pytest.fixture
def widgets() -> WidgetSimulator:
    return WidgetSimulator()


@pytest.fixture
async def widgets_server(widgets: WidgetSimulator) -> AsyncIterator[RunningServer]:
    async with serve(widgets.app) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"X-Token": TOKEN}) as session:
        yield session


# -- Shopify ---------------------------------------------------------------------------------


@dataclass
class ShopifyRig:
    """A Shopify simulator on loopback, an authenticated client, and a webhook receiver."""

    sim: Any
    base_url: str
    api: str
    graphql_url: str
    http: aiohttp.ClientSession
    hooks: list[dict[str, Any]] = field(default_factory=list)
    hook_url: str = ""
    fail_hooks: int = 0

    async def place(self, spec: dict[str, Any] | None = None) -> dict[str, Any]:
        spec = spec or {"line_items": [{"sku": "MUG-RED", "quantity": 2}]}
        async with self.http.post(f"{self.base_url}/_sandbox/shopify/orders", json=spec) as r:
            assert r.status == 201, await r.text()
            order: dict[str, Any] = (await r.json())["order"]
            return order

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, version: str | None = None
    ) -> dict[str, Any]:
        url = (
            self.graphql_url
            if version is None
            else f"{self.base_url}/admin/api/{version}/graphql.json"
        )
        async with self.http.post(url, json={"query": query, "variables": variables or {}}) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    async def subscribe(self, topics: list[str]) -> None:
        for topic in topics:
            body = {"webhook": {"topic": topic, "address": self.hook_url, "format": "json"}}
            async with self.http.post(f"{self.api}/webhooks.json", json=body) as r:
                assert r.status == 201, await r.text()

    async def drain(self) -> None:
        async with self.http.post(f"{self.base_url}/_sandbox/deliveries/drain?timeout_s=20") as r:
            assert (await r.json())["drained"] is True


@pytest.fixture
async def shopify() -> AsyncIterator[ShopifyRig]:
    from crossdock.sandbox.shopify import ShopifySimulator

    sim = ShopifySimulator(webhook_time_scale=0.00002)
    hooks: list[dict[str, Any]] = []
    rig_box: list[ShopifyRig] = []

    async def hook(request: Any) -> Response:
        raw = await request.body()
        rig = rig_box[0]
        if rig.fail_hooks > 0:
            rig.fail_hooks -= 1
            return Response(status_code=503)
        hooks.append({"raw": raw, "headers": dict(request.headers), "body": json.loads(raw)})
        return Response(status_code=200)

    receiver_app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    async with serve(sim.app) as server, serve(receiver_app) as receiver:
        creds = sim.credentials_for(server.base_url)
        headers = {"X-Shopify-Access-Token": creds["access_token"]}
        async with aiohttp.ClientSession(headers=headers) as http:
            rig = ShopifyRig(
                sim=sim,
                base_url=server.base_url,
                api=creds["admin_api_url"],
                graphql_url=creds["graphql_url"],
                http=http,
                hooks=hooks,
                hook_url=f"{receiver.base_url}/hooks",
            )
            rig_box.append(rig)
            yield rig
