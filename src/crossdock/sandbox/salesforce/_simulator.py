"""The Salesforce simulator: OAuth 2.0, REST sObjects, SOQL, limits and CDC over CometD."""

from __future__ import annotations

import copy
import functools
import json
import re
from collections import deque
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.kit import Scenario, Simulator, SimulatorHTTPError
from crossdock.sandbox.salesforce import _ids
from crossdock.sandbox.salesforce._auth import ConnectedApp, TokenError, TokenService
from crossdock.sandbox.salesforce._cdc import GAP_TYPES, ChangeLog
from crossdock.sandbox.salesforce._clock import VirtualClock
from crossdock.sandbox.salesforce._cometd import Bayeux
from crossdock.sandbox.salesforce._errors import (
    INVALID_SESSION,
    LIMIT_EXCEEDED,
    STATUS_ERRORS,
    SalesforceError,
    error_array,
)
from crossdock.sandbox.salesforce._json import json_response
from crossdock.sandbox.salesforce._org import INTEGRATION_USER, Org
from crossdock.sandbox.salesforce._rest import RestCall

API_VERSION = "62.0"
_VERSION_RE = re.compile(r"^v(\d{2}\.\d)$")
DAY_S = 86_400.0

DEFAULT_DATA: dict[str, Any] = {
    "client_credentials": {
        "client_id": "3MVG9sandboxClientCredentialsKey",
        "client_secret": "sandbox-client-secret-5c1e",
        "run_as": "integration@crossdock.example",
    },
    "jwt": {
        "consumer_key": "3MVG9sandboxJwtBearerConsumerKey",
        "consumer_secret": "sandbox-jwt-secret-77aa",
        "username": "integration@crossdock.example",
        "certificate_pem": None,
    },
    "session_seconds": 7200,
    "daily_api_limit": 15000,
    "upsert_update_status": 200,
    "poll_timeout_s": 110.0,
    "query_batch_size": 2000,
    "pricebook": "Standard Price Book",
    "catalog": [
        {"sku": "CD-MUG-01", "name": "Crossdock Mug", "price": "12.50"},
        {"sku": "CD-TEE-M", "name": "Crossdock T-Shirt M", "price": "24.00"},
        {"sku": "CD-CAP-01", "name": "Crossdock Cap", "price": "18.90"},
    ],
    # The catch-all products an integration maps lines to that name no stocked product
    # (custom lines, sold gift cards): found by ProductCode, no SKU, priced per line.
    "catch_all_products": [
        {"code": "CROSSDOCK-CUSTOM", "name": "Custom item", "price": "0.00"},
        {"code": "CROSSDOCK-GIFTCARD", "name": "Gift card", "price": "0.00"},
    ],
    "records": [],
}


def default_scenario() -> Scenario:
    """One org: a client-credentials app, a JWT app, a standard price book, three products and
    the two catch-all products (custom item, gift card)."""
    return Scenario(seed=62, data=copy.deepcopy(DEFAULT_DATA), name="salesforce-default")


def _catalog_records(data: dict[str, Any]) -> list[dict[str, Any]]:
    book_id = _ids.make_id("Pricebook2", 1)
    records: list[dict[str, Any]] = [
        {
            "type": "Pricebook2",
            "Id": book_id,
            "Name": data["pricebook"],
            "IsStandard": True,
            "IsActive": True,
        }
    ]
    products = [*data.get("catalog", []), *data.get("catch_all_products", [])]
    for n, item in enumerate(products, start=1):
        product_id = _ids.make_id("Product2", n)
        product: dict[str, Any] = {
            "type": "Product2",
            "Id": product_id,
            "Name": item["name"],
            "ProductCode": item.get("code", item.get("sku")),
            "IsActive": True,
        }
        if item.get("sku"):
            product["SKU__c"] = item["sku"]
        records.append(product)
        records.append(
            {
                "type": "PricebookEntry",
                "Id": _ids.make_id("PricebookEntry", n),
                "Pricebook2Id": book_id,
                "Product2Id": product_id,
                "UnitPrice": Decimal(str(item["price"])),
                "IsActive": item.get("active", True),
            }
        )
    return records


@functools.cache
def _app_key_pair() -> tuple[str, str]:
    """The JWT app's key pair (private PEM, public PEM), made once per process: RSA key
    generation is slow, and a test org's key needs no secrecy."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class SalesforceSimulator(Simulator):
    """A Salesforce org with the REST API, SOQL, Change Data Capture and both token flows.

    Args:
        scenario: The org (default: `default_scenario`); ``data`` may override any key of
            `DEFAULT_DATA`: the apps, ``session_seconds``, ``daily_api_limit``,
            ``upsert_update_status`` (200 or 204), ``poll_timeout_s``, ``query_batch_size``
            (records per query page, 2000 by default), ``catalog`` (``sku``, ``name``,
            ``price``, optional ``code`` and ``active``), ``catch_all_products`` (the same
            without ``sku``: ``code`` is the ProductCode) and raw ``records``.
        seed: Overrides the scenario's seed.
    """

    system = "salesforce"

    def default_scenario(self) -> Scenario:
        """The default org."""
        return default_scenario()

    def _setting(self, name: str) -> Any:
        return self.scenario.data.get(name, DEFAULT_DATA[name])

    def seed_state(self, scenario: Scenario) -> None:
        """Org, sessions, limits, change log and streaming clients start afresh."""
        self.clock = VirtualClock()
        self.changes = ChangeLog(self.seed, self.clock.now)
        data = {**DEFAULT_DATA, **scenario.data}
        records = [*_catalog_records(data), *data.get("records", [])]
        self.org = Org({**data, "records": records}, self.seed, self.clock, self.changes)
        self.upsert_update_status = int(self._setting("upsert_update_status"))
        self.daily_limit = int(self._setting("daily_api_limit"))
        self.api_calls: deque[float] = deque()
        self.query_batch_size = int(self._setting("query_batch_size"))
        self.cursors: dict[str, tuple[int, list[dict[str, Any]]]] = {}
        self.query_cursors = 0
        if not hasattr(self, "jwt_private_key_pem"):
            self._make_jwt_key()
        self.tokens = TokenService(
            self._apps(),
            {
                self._setting("client_credentials")["run_as"]: INTEGRATION_USER,
                self._setting("jwt")["username"]: INTEGRATION_USER,
            },
            self.clock,
            session_s=float(self._setting("session_seconds")),
            seed=self.seed,
        )
        self.bayeux = Bayeux(self.changes, self.seed, float(self._setting("poll_timeout_s")))

    def _make_jwt_key(self) -> None:
        given = self._setting("jwt").get("certificate_pem")
        self.jwt_private_key_pem: str | None = None
        if given:
            self.jwt_certificate_pem = str(given)
            return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwt_private_key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        self.jwt_certificate_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def _apps(self) -> list[ConnectedApp]:
        cc, jwt = self._setting("client_credentials"), self._setting("jwt")
        return [
            ConnectedApp(cc["client_id"], cc["client_secret"], run_as=cc.get("run_as")),
            ConnectedApp(
                jwt["consumer_key"],
                jwt["consumer_secret"],
                certificate_pem=self.jwt_certificate_pem,
                authorized_users=frozenset({jwt["username"]}),
            ),
        ]

    def credentials(self) -> dict[str, Any]:
        """Everything a client needs: token URL, both apps, the JWT key, the API version."""
        cc, jwt = self._setting("client_credentials"), self._setting("jwt")
        return {
            "instance_url": "{base_url}",
            "token_url": "{base_url}/services/oauth2/token",
            "api_version": API_VERSION,
            "cometd_url": "{base_url}/cometd/" + API_VERSION,
            "client_id": cc["client_id"],
            "client_secret": cc["client_secret"],
            "jwt_consumer_key": jwt["consumer_key"],
            "jwt_username": jwt["username"],
            "jwt_audience": "https://login.salesforce.com",
            "jwt_private_key_pem": self.jwt_private_key_pem,
        }

    def error_response(self, status: int) -> Response:
        """Salesforce's JSON-array error for an injected or routed status."""
        code, message = STATUS_ERRORS.get(status, ("UNKNOWN_EXCEPTION", "An unexpected error"))
        return error_array(status, code, message)

    # -- auth and limits -----------------------------------------------------------------------

    async def authenticate(self, request: Request) -> None:
        """A live bearer session, else 401 INVALID_SESSION_ID."""
        session = self.tokens.session_for(request.headers.get("authorization"))
        if session is None:
            code, message = INVALID_SESSION
            raise SimulatorHTTPError(error_array(401, code, message))

    def _used(self) -> int:
        horizon = self.clock.now() - DAY_S
        while self.api_calls and self.api_calls[0] <= horizon:
            self.api_calls.popleft()
        return len(self.api_calls)

    async def rate_limit(self, request: Request) -> None:
        """The rolling 24-hour allocation: counted per call, reported on every response."""
        if not request.url.path.startswith("/services/data/"):
            return
        used = self._used()
        # Injected tighter throttling shrinks the allocation (the kit's throttle_factor).
        limit = max(1, int(self.daily_limit * self.faults.spec.throttle_factor))
        if used >= limit:
            code, message = LIMIT_EXCEEDED
            raise SimulatorHTTPError(
                json_response(
                    [{"message": message, "errorCode": code}],
                    403,
                    {"Sforce-Limit-Info": f"api-usage={used}/{limit}"},
                )
            )
        self.api_calls.append(self.clock.now())
        self.add_response_header(request, "Sforce-Limit-Info", f"api-usage={used + 1}/{limit}")

    def limits_body(self) -> dict[str, Any]:
        """``GET /limits``: the daily allocation (and a few fixed others)."""
        used = self._used()
        return {
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": self.daily_limit - used},
            "DailyStreamingApiEvents": {"Max": 1_000_000, "Remaining": 1_000_000},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }

    # -- routes --------------------------------------------------------------------------------

    def register_routes(self, app: FastAPI) -> None:
        """Token endpoint, REST under ``/services/data`` and the streaming endpoint."""

        @app.post("/services/oauth2/token")
        async def token(request: Request) -> Response:
            instance_url = str(request.base_url).rstrip("/")
            try:
                body = self.tokens.grant(
                    await request.body(), request.headers.get("authorization"), instance_url
                )
            except TokenError as error:
                return json_response(error.body(), 400)
            return json_response(body)

        @app.get("/services/data")
        @app.get("/services/data/")
        async def versions() -> Response:
            return json_response(
                [
                    {
                        "label": "Winter '25",
                        "url": f"/services/data/v{API_VERSION}",
                        "version": API_VERSION,
                    }
                ]
            )

        @app.api_route(
            "/services/data/{version}/{rest:path}",
            methods=["GET", "POST", "PATCH", "DELETE"],
            dependencies=[Depends(self.guard)],
        )
        async def rest(request: Request, version: str, rest: str) -> Response:
            return await self._rest(request, version, rest)

        @app.post("/cometd/{version}", dependencies=[Depends(self.authenticate_streaming)])
        async def cometd(request: Request, version: str) -> Response:
            return await self._cometd(request)

    async def authenticate_streaming(self, request: Request) -> None:
        """The streaming endpoint answers Bayeux errors, not 401, for a bad session."""
        request.state.authorised = (
            self.tokens.session_for(request.headers.get("authorization")) is not None
        )

    async def _rest(self, request: Request, version: str, rest: str) -> Response:
        matched = _VERSION_RE.match(version)
        if matched is None:
            return error_array(404, "NOT_FOUND", "The requested resource does not exist")
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw, parse_float=Decimal)
            except ValueError as exc:
                return SalesforceError(
                    "JSON_PARSER_ERROR", f"Unexpected character: {exc}"
                ).response()
        parts = [p for p in rest.split("/") if p]
        call = RestCall(
            self,
            matched.group(1),
            request.method,
            parts,
            dict(request.query_params),
            body,
            self._origin(request, matched.group(1)),
        )
        return call.dispatch()

    @staticmethod
    def _origin(request: Request, version: str) -> str:
        options = request.headers.get("sforce-call-options", "")
        client = None
        for option in options.split(","):
            key, _, value = option.strip().partition("=")
            if key.strip() == "client" and value.strip():
                client = value.strip()
        origin = f"com/salesforce/api/rest/{version}"
        return f"{origin};client={client}" if client else origin

    async def _cometd(self, request: Request) -> Response:
        try:
            decoded = json.loads(await request.body() or b"null")
        except ValueError:
            return json_response([{"successful": False, "error": "400::Bad JSON"}], 400)
        messages = decoded if isinstance(decoded, list) else [decoded]
        messages = [m for m in messages if isinstance(m, dict)]
        if not getattr(request.state, "authorised", False):
            replies = [r for m in messages for r in self.bayeux.denied(m)]
            handshake = any(m.get("channel") == "/meta/handshake" for m in messages)
            return json_response(replies, 401 if handshake else 200)
        return json_response(await self.bayeux.handle(messages))

    # -- admin -------------------------------------------------------------------------------

    def register_admin_routes(self, router: APIRouter) -> None:
        """Clock, limits, sessions, settings and gap events under ``/_sandbox/salesforce``."""

        @router.post("/salesforce/clock")
        async def clock(request: Request) -> Response:
            body = await _json(request)
            self.clock.advance(float(body.get("advance_s", 0)))
            return json_response({"now_ms": self.clock.now_ms()})

        @router.post("/salesforce/limits")
        async def limits(request: Request) -> Response:
            body = await _json(request)
            if "limit" in body:
                self.daily_limit = int(body["limit"])
            if "used" in body:
                self.api_calls = deque([self.clock.now()] * int(body["used"]))
            return json_response(self.limits_body())

        @router.post("/salesforce/sessions/expire")
        async def expire() -> Response:
            return json_response({"expired": self.tokens.expire_all()})

        @router.post("/salesforce/settings")
        async def settings(request: Request) -> Response:
            body = await _json(request)
            if "upsert_update_status" in body:
                status = int(body["upsert_update_status"])
                if status not in {200, 204}:
                    return json_response({"error": "upsert_update_status is 200 or 204"}, 400)
                self.upsert_update_status = status
            return json_response({"upsert_update_status": self.upsert_update_status})

        @router.post("/salesforce/gap")
        async def gap(request: Request) -> Response:
            body = await _json(request)
            try:
                replay_id = self.gap(
                    str(body["entity"]),
                    [str(i) for i in body.get("record_ids", [])],
                    str(body.get("change_type", "GAP_UPDATE")),
                    body.get("fields") or {},
                )
            except (KeyError, ValueError, SalesforceError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response({"replayId": replay_id})

        @router.get("/salesforce/records/{sobject}")
        async def records(sobject: str) -> Response:
            found = self.org.records.get(sobject)
            if found is None:
                return json_response({"error": f"unknown sobject {sobject}"}, 404)
            return json_response(list(found.values()))

    def gap(
        self,
        entity: str,
        record_ids: list[str],
        change_type: str = "GAP_UPDATE",
        fields: dict[str, Any] | None = None,
    ) -> int:
        """Change records without regular change events, then log one gap event for them.

        Returns:
            The gap event's replay id.
        """
        if change_type not in GAP_TYPES:
            raise ValueError(f"change_type must be one of {sorted(GAP_TYPES)}")
        for record_id in record_ids:
            if fields:
                self.org.write_unnoticed(entity, record_id, fields)
        event = self.changes.gap(
            entity,
            record_ids,
            change_type,
            commit_ms=self.clock.now_ms(),
            commit_user=INTEGRATION_USER,
        )
        return event.replay_id


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    decoded = json.loads(raw, parse_float=Decimal) if raw else {}
    return decoded if isinstance(decoded, dict) else {}
