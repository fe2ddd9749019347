"""The battery's own proof, on a minimal reference pair: a widget service behind OAuth 2.0.

The three real pairs use static credentials, so the refresh case runs here: the simulator can
revoke every token it issued, and the client-credentials scheme must fetch a new one and retry.
A deliberately broken connector (it resends a non-idempotent create as if it were idempotent)
shows that the battery catches the defect: its case is a strict xfail.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi import Depends, FastAPI, Request
from starlette.responses import Response

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import AuthFailedError, Connector, handles, verify_hmac
from crossdock.connectorkit.auth import OAuth2ClientCredentials
from crossdock.connectorkit.testing import (
    DEFAULT_ERROR_CLASSES,
    CommandSample,
    ConformanceSpec,
    ConnectorOptions,
    InboundSample,
    InboundSpec,
    SimulatorEnv,
    error_classes,
    make_conformance_tests,
)
from crossdock.runtime.resilience import header
from crossdock.sandbox.kit import (
    Base64HmacSha256Signer,
    RetrySchedule,
    Simulator,
    SimulatorHTTPError,
    WebhookSender,
    dumps,
    json_response,
)

from .conftest import capture_delivery, served

CLIENT_ID, CLIENT_SECRET, HOOK_SECRET = "widget-client", "widget-secret", "widget-hook-secret"
SIGNATURE = "X-Widget-Hmac"


class WidgetSimulator(Simulator):
    """Widgets by key: ``PUT`` (an upsert), ``POST`` (a plain create), OAuth 2.0 tokens."""

    system = "widgets"

    def seed_state(self, scenario: Any) -> None:
        self.widgets: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.token_ids = itertools.count(1)

    def credentials(self) -> dict[str, Any]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_url": "{base_url}/oauth/token",
            "webhook_secret": HOOK_SECRET,
        }

    def make_webhook_sender(self) -> WebhookSender:
        return WebhookSender(
            Base64HmacSha256Signer(HOOK_SECRET, header=SIGNATURE),
            RetrySchedule.exponential(2, 0.01),
            headers=lambda delivery: {"X-Widget-Event": delivery.event_id},
        )

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    async def authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            raise SimulatorHTTPError(json_response({"error": "invalid_token"}, 401))

    def register_routes(self, app: FastAPI) -> None:
        guarded = [Depends(self.guard)]
        app.add_api_route("/oauth/token", self._token, methods=["POST"])
        app.add_api_route("/widgets", self._list, methods=["GET"], dependencies=guarded)
        app.add_api_route("/widgets", self._create, methods=["POST"], dependencies=guarded)
        app.add_api_route("/widgets/{key}", self._put, methods=["PUT"], dependencies=guarded)

    async def _token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET]:
            return json_response({"error": "invalid_client"}, 401)
        token = f"tok-{next(self.token_ids)}"
        self.tokens.add(token)
        return json_response({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    async def _list(self) -> Response:
        return json_response({"widgets": list(self.widgets.values())})

    async def _put(self, key: str, request: Request) -> Response:
        widget = {"key": key, "name": json.loads(await request.body())["name"]}
        self.effects.attempt("widget", key)
        if self.widgets.get(key) == widget:
            self.effects.absorbed("widget", key)
        else:
            self.widgets[key] = widget
            self.effects.created("widget", key, state=widget["name"])
        return json_response(widget)

    async def _create(self, request: Request) -> Response:
        widget = json.loads(await request.body())
        self.effects.attempt("widget", widget["key"])
        self.effects.created("widget", widget["key"], state=widget["name"])
        self.widgets[f"{widget['key']}#{len(self.widgets)}"] = widget
        return json_response(widget, 201)

    def rename(self, key: str, name: str) -> None:
        self.widgets[key] = {"key": key, "name": name}
        if self.webhooks is not None:
            self.webhooks.emit("widget/updated", dumps(self.widgets[key]))


class WidgetConnector(Connector):
    """``widget.put`` out (an upsert by key); ``widget/updated`` deliveries in."""

    system = "widgets"

    def __init__(self, options: ConnectorOptions, base_url: str) -> None:
        creds = options.credentials
        super().__init__(
            http=options.http,
            base_url=base_url,
            auth=OAuth2ClientCredentials(
                options.http,
                str(creds["token_url"]),
                client_id=str(creds["client_id"]),
                client_secret=str(creds["client_secret"]),
            ),
            rate_budget=options.rate_budget,
            breaker=options.breaker,
            clock=options.clock,
        )
        self.secret = str(creds["webhook_secret"])
        if options.timeout is not None:
            self.default_timeout = options.timeout  # type: ignore[misc]

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        return verify_hmac(raw_body, header(headers, SIGNATURE), [self.secret])

    def delivery(self, headers: Mapping[str, str], raw_body: bytes) -> Delivery:
        return Delivery(
            source=self.destination,
            dedupe_key=f"event:{header(headers, 'X-Widget-Event')}",
            body=raw_body,
            headers={SIGNATURE: header(headers, SIGNATURE) or ""},
            correlation_id=new_id(),
        )

    async def decode(self, delivery: Delivery) -> list[Event]:
        widget = json.loads(delivery.body)
        return [
            Event(
                source=self.destination,
                type="widget.updated",
                subject=widget["key"],
                correlationid=delivery.correlation_id,
                data=widget,
            )
        ]

    @handles("widget.put")
    async def put_widget(self, command: Command) -> JSONObject:
        key, name = command.payload["key"], command.payload["name"]
        answer: JSONObject = (await self.call("PUT", f"/widgets/{key}", json={"name": name})).json()
        return answer


class CarelessWidgetConnector(WidgetConnector):
    """The defect the battery must catch: a plain create, declared idempotent, resent blindly."""

    @handles("widget.put")
    async def put_widget(self, command: Command) -> JSONObject:
        body = {"key": command.payload["key"], "name": command.payload["name"]}
        answer: JSONObject = (
            await self.call("POST", "/widgets", json=body, idempotent=True)
        ).json()
        return answer


@asynccontextmanager
async def _start() -> AsyncIterator[SimulatorEnv]:
    async with served(WidgetSimulator()) as env:
        yield env


async def _probe(connector: Connector) -> object:
    return (await connector.call("GET", "/widgets")).json()


async def _command(env: SimulatorEnv) -> CommandSample:
    command = Command("flow-1:widget", "widgets", "widget.put", {"key": "w-1", "name": "Sprocket"})
    return CommandSample(command, effect_kind="widget", effect_key="w-1")


async def _revoke(env: SimulatorEnv) -> None:
    sim: WidgetSimulator = env.handle
    sim.revoke_tokens()


async def _renamed(env: SimulatorEnv) -> InboundSample:
    sim: WidgetSimulator = env.handle
    return await capture_delivery(env, lambda: sim.rename("w-2", "Gear"))


def _to_delivery(connector: Connector, sample: InboundSample) -> Delivery:
    assert isinstance(connector, WidgetConnector)
    return connector.delivery(sample.headers, sample.body)


WIDGETS_SPEC = ConformanceSpec(
    name="widgets",
    start=_start,
    connect=lambda env, options: WidgetConnector(options, env.base_url),
    spoil_credentials=lambda creds: {**creds, "client_secret": "nope", "webhook_secret": "nope"},
    probe=_probe,
    command=_command,
    auth_refresh=_revoke,
    inbound=InboundSpec(sample=_renamed, to_delivery=_to_delivery),
)

TestWidgetsConformance = make_conformance_tests(WIDGETS_SPEC)

TestCarelessWidgetsConformance = make_conformance_tests(
    replace(
        WIDGETS_SPEC,
        name="careless_widgets",
        connect=lambda env, options: CarelessWidgetConnector(options, env.base_url),
    ),
    xfail={"test_idempotent_retry_after_timeout": "resends a plain create: two effects"},
)


def test_an_xfail_must_name_a_case_of_the_battery() -> None:
    with pytest.raises(ValueError, match="test_breaker_opens"):
        make_conformance_tests(WIDGETS_SPEC, xfail={"test_breaker_opens": "typo"})
    made = make_conformance_tests(WIDGETS_SPEC, xfail={"test_error_class[http503]": "known"})
    assert made.__name__ == "TestWidgetsConformance"


def test_error_classes_change_the_default_table() -> None:
    table = error_classes(s403=AuthFailedError, s400=None)
    assert table[403] is AuthFailedError
    assert 400 not in table
    assert table[503] is DEFAULT_ERROR_CLASSES[503]
    with pytest.raises(ValueError, match="s<status>"):
        error_classes(http403=AuthFailedError)
