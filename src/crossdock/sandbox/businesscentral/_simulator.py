"""The Business Central simulator: Entra ID client credentials, API v2.0 with OData and ETags."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from crossdock.sandbox.businesscentral._limits import PrincipalLimits
from crossdock.sandbox.businesscentral._odata import page, parse_query, select
from crossdock.sandbox.businesscentral._state import (
    CREDIT_MEMO_WRITABLE,
    CUSTOMER_FIELDS,
    DEFAULT_ACCOUNTS,
    ORDER_FIELDS,
    Company,
    Entity,
    not_found,
)
from crossdock.sandbox.businesscentral._wire import ODataError, error_body, odata_response
from crossdock.sandbox.kit import Scenario, Simulator, json_response

SCOPE = "https://api.businesscentral.dynamics.com/.default"
DEFAULT_DATA: dict[str, Any] = {
    "tenant": "contoso.onmicrosoft.com",
    "environment": "Production",
    "client_id": "6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f",
    "client_secret": "bc-sandbox-secret~0123456789",
    "company": {
        "id": "7c1a0e9e-2b1c-ef11-9f88-6045bd000000",
        "name": "CRONUS Danmark A/S",
        "customers": [
            {
                "number": "C00010",
                "displayName": "Adatum Corporation",
                "email": "buyer@adatum.example",
                "addressLine1": "192 Market Square",
                "city": "Atlanta",
                "country": "US",
                "postalCode": "31772",
            }
        ],
        "items": [
            {
                "number": "1896-S",
                "displayName": "ATHENS Desk",
                "gtin": "05712345000017",
                "unitPrice": "1000.8",
                "unitCost": "780.7",
                "inventory": 40,
            },
            {
                "number": "1920-S",
                "displayName": "ANTWERP Conference Table",
                "gtin": "05712345000024",
                "unitPrice": "649.4",
                "unitCost": "506.6",
                "inventory": 10,
            },
            {
                "number": "1936-S",
                "displayName": "BERLIN Guest Chair, yellow",
                "gtin": "05712345000031",
                "unitPrice": "192.8",
                "unitCost": "150.4",
                "inventory": 100,
            },
        ],
        "accounts": copy.deepcopy(DEFAULT_ACCOUNTS),
    },
}
_ENTITY_PATH = re.compile(r"^(\w+)(?:\(([^)]*)\))?$")
_STATUS_CODES = {
    400: "BadRequest",
    401: "Authentication_InvalidCredentials",
    403: "Authorization_Failed",
    404: "BadRequest_NotFound",
    408: "RequestTimeout",
    429: "Application_TooManyRequests",
    500: "Internal_ServerError",
    502: "BadGateway",
    503: "Internal_ServiceUnavailable",
    504: "GatewayTimeout",
}


def default_scenario() -> Scenario:
    """One tenant, one environment, one company with a customer, three items in stock and the
    G/L accounts of custom lines, sold gift cards and freight."""
    return Scenario(seed=7, data=copy.deepcopy(DEFAULT_DATA), name="businesscentral-default")


class Settings(BaseModel):
    """The simulator's knobs (``POST /_sandbox/businesscentral/settings``).

    Attributes:
        page_size: Entities per page before ``@odata.nextLink`` (BC: up to 20,000).
        conflict_status: The status of ``Request_EntityChanged``: 409 (current servers) or
            412 (older ones); both occur in the wild.
        rate_limit: Requests per principal per window (BC: 6,000).
        rate_window_s: The sliding window (BC: 300 s).
        max_concurrent: Requests processed at once per principal (BC: 5).
        token_lifetime_s: ``expires_in`` of a new token (Entra: 3599 s).
        handler_delay_s: Time each business call takes while counted as in flight.
        delete_fully_invoiced: Delete a sales order once it is completely shipped and
            invoiced, as Business Central does (its posted shipments and invoices remain,
            carrying the ``externalDocumentNumber``).
    """

    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(default=20_000, ge=1, le=20_000)
    conflict_status: Literal[409, 412] = 409
    rate_limit: int = Field(default=6000, ge=1)
    rate_window_s: float = Field(default=300.0, gt=0)
    max_concurrent: int = Field(default=5, ge=1)
    token_lifetime_s: int = Field(default=3599, ge=1)
    handler_delay_s: float = Field(default=0.0, ge=0)
    delete_fully_invoiced: bool = True


class Interference(BaseModel):
    """Another user's change, applied just before the next write to a sales order (or, with
    ``line_id``, to that line of it: its ETag changes, the order's does not)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    line_id: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)
    times: int = Field(default=1, ge=1)


@dataclass
class _Token:
    client_id: str
    expires_at: float


Handler = Callable[[Request, "_Target"], Awaitable[Response]]


@dataclass(frozen=True)
class _Target:
    """A parsed API path below ``companies({id})``."""

    company: Company
    segments: tuple[tuple[str, str | None], ...]
    url: str


class BusinessCentralSimulator(Simulator):
    """A Business Central tenant with one environment and one company (API v2.0).

    Args:
        scenario: ``data`` may set ``tenant``, ``environment``, ``client_id``,
            ``client_secret`` and ``company`` (``id``, ``name``, ``customers``, ``items``,
            ``accounts``: the G/L accounts that Account lines post to).
        seed: Overrides the scenario's seed (ids are drawn from it).
        settings: Initial `Settings`.
        monotonic: The clock of token expiry and rate windows.
    """

    system = "businesscentral"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        settings: Settings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self.settings = settings or Settings()
        self.limits = PrincipalLimits(monotonic=monotonic)
        super().__init__(scenario, seed=seed)

    # -- kit override points ---------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The default tenant."""
        return default_scenario()

    def seed_state(self, scenario: Scenario) -> None:
        """A fresh company, no tokens, no counts."""
        data = {**DEFAULT_DATA, **scenario.data}
        self.tenant = str(data["tenant"])
        self.environment = str(data["environment"])
        self.client_id = str(data["client_id"])
        self.client_secret = str(data["client_secret"])
        self.company = Company(data["company"], random.Random(self.seed))
        self.tokens: dict[str, _Token] = {}
        self.interferences: dict[str, Interference] = {}
        self.racing_customers: list[dict[str, Any]] = []
        self.limits.reset()
        self._apply_settings()

    def configure(self, settings: Settings) -> None:
        """Replace the knobs (page size, conflict status, limits, token lifetime...)."""
        self.settings = settings
        self._apply_settings()

    def _apply_settings(self) -> None:
        self.limits.limit = self.settings.rate_limit
        self.limits.window_s = self.settings.rate_window_s
        self.limits.max_concurrent = self.settings.max_concurrent

    def error_response(self, status: int) -> Response:
        """BC's error shape for an injected or unrouted status."""
        code = _STATUS_CODES.get(status, "Internal_ServerError")
        return odata_response(error_body(code, HTTPStatus(status).phrase), status)

    def credentials(self) -> dict[str, Any]:
        """Tenant, environment, company, the client credentials and the two URLs."""
        return {
            "tenant": self.tenant,
            "environment": self.environment,
            "company_id": self.company.id,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": SCOPE,
            "token_url": f"{{base_url}}/{self.tenant}/oauth2/v2.0/token",
            "api_url": f"{{base_url}}/v2.0/{self.tenant}/{self.environment}/api/v2.0",
        }

    def register_admin_routes(self, router: APIRouter) -> None:
        """Settings, token revocation, another user's change, and inventory adjustment."""

        @router.get("/businesscentral/settings")
        async def get_settings() -> Response:
            return json_response(self.settings.model_dump())

        @router.post("/businesscentral/settings")
        async def set_settings(request: Request) -> Response:
            merged = {**self.settings.model_dump(), **json.loads(await request.body() or b"{}")}
            self.configure(Settings.model_validate(merged))
            return json_response(self.settings.model_dump())

        @router.post("/businesscentral/revoke-tokens")
        async def revoke() -> Response:
            count = len(self.tokens)
            self.tokens.clear()
            return json_response({"revoked": count})

        @router.post("/businesscentral/race-customer")
        async def race_customer(request: Request) -> Response:
            body = json.loads(await request.body() or b"{}", parse_float=Decimal)
            if not isinstance(body, dict) or not body.get("number"):
                return json_response({"error": "give the customer a number"}, 400)
            self.racing_customers.append(body)
            return json_response({"queued": len(self.racing_customers)})

        @router.post("/businesscentral/interfere")
        async def interfere(request: Request) -> Response:
            spec = Interference.model_validate_json(await request.body())
            try:
                order = self.company.order(spec.order_id)
                if spec.line_id is not None and spec.line_id not in {c.id for c in order.children}:
                    raise not_found("Sales Line", f"SystemId='{spec.line_id}'")
            except ODataError as exc:
                return exc.response()
            self.interferences[spec.order_id] = spec
            return json_response(spec.model_dump())

        @router.post("/businesscentral/inventory")
        async def inventory(request: Request) -> Response:
            body = json.loads(await request.body(), parse_float=Decimal)
            try:
                item = self.company.adjust_inventory(str(body["number"]), Decimal(body["delta"]))
            except ODataError as exc:
                return exc.response()
            return odata_response(item.view())

    def register_routes(self, app: FastAPI) -> None:
        """The Entra token endpoint and the API v2.0 tree."""

        @app.post("/{tenant}/oauth2/v2.0/token")
        async def token(tenant: str, request: Request) -> Response:
            return self._token(tenant, (await request.body()).decode("utf-8", "replace"))

        @app.api_route(
            "/v2.0/{tenant}/{environment}/api/v2.0/{rest:path}",
            methods=["GET", "POST", "PATCH", "DELETE"],
        )
        async def api(tenant: str, environment: str, rest: str, request: Request) -> Response:
            try:
                principal = self._principal(request)
                self.limits.admit(principal, factor=self.faults.throttle_factor)
            except ODataError as exc:
                return exc.response()
            try:
                if self.settings.handler_delay_s:
                    await asyncio.sleep(self.settings.handler_delay_s)
                return await self._dispatch(tenant, environment, rest, request)
            except ODataError as exc:
                return exc.response()
            finally:
                self.limits.done(principal)

    # -- auth ------------------------------------------------------------------------------

    def _token(self, tenant: str, body: str) -> Response:
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        if tenant != self.tenant:
            return _aad_error(400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            )
        if form.get("client_id") != self.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not "
                "found in the directory.",
            )
        if not secrets.compare_digest(
            form.get("client_secret", "").encode(), self.client_secret.encode()
        ):
            return _aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                "in the request is the client secret value, not the client secret ID.",
            )
        if form.get("scope") != SCOPE:
            return _aad_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {form.get('scope')} is not valid.",
            )
        lifetime = self.settings.token_lifetime_s
        value = _jwt_like(self.client_id)
        self.tokens[value] = _Token(self.client_id, self._monotonic() + lifetime)
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": value,
            }
        )

    def _principal(self, request: Request) -> str:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self.tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None or token.expires_at <= self._monotonic():
            if token is not None:
                del self.tokens[value]
            raise ODataError(
                401,
                "Authentication_InvalidCredentials",
                "The server has rejected the client credentials.",
                {"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        return token.client_id

    # -- routing ---------------------------------------------------------------------------

    async def _dispatch(
        self, tenant: str, environment: str, rest: str, request: Request
    ) -> Response:
        if tenant != self.tenant or environment != self.environment:
            raise ODataError(
                404, "BadRequest_NotFound", f"The environment '{environment}' does not exist."
            )
        segments = tuple(_segment(part) for part in rest.strip("/").split("/"))
        url = str(request.url).split("?", 1)[0]
        name, key = segments[0]
        if name != "companies":
            raise _no_segment(name)
        if key is None:
            if request.method != "GET" or len(segments) > 1:
                raise _not_allowed(request.method)
            return odata_response({"value": [self.company.view()]})
        if key.strip("'") != self.company.id:
            raise not_found("Company", f"Id='{key}'")
        if len(segments) == 1:
            return odata_response(self.company.view())
        target = _Target(self.company, segments[1:], url)
        handler = _ROUTES.get((segments[1][0], len(segments) - 1, segments[1][1] is not None))
        if handler is None:
            raise _no_segment("/".join(s for s, _ in segments[1:]))
        return await handler(self, request, target)

    # -- handlers --------------------------------------------------------------------------

    async def _list(self, request: Request, target: _Target) -> Response:
        name = target.segments[0][0]
        entities, child = self._collection(name)
        if request.method == "POST":
            return await self._create(name, request)
        if request.method != "GET":
            raise _not_allowed(request.method)
        query = parse_query(dict(request.query_params), expandable=[child] if child else [])
        views = [e.view(child if child in query.expand else None) for e in entities]
        rows, next_link = page(views, query, page_size=self.settings.page_size, url=target.url)
        body: dict[str, Any] = {"value": [select(r, query.select) for r in rows]}
        if next_link is not None:
            body["@odata.nextLink"] = next_link
        return odata_response(body)

    def _collection(self, name: str) -> tuple[list[Entity], str | None]:
        company = self.company
        table: dict[str, tuple[list[Entity], str | None]] = {
            "customers": (list(company.customers.values()), None),
            "items": (list(company.items.values()), None),
            "salesOrders": (list(company.orders.values()), "salesOrderLines"),
            "salesShipments": (list(company.shipments.values()), "salesShipmentLines"),
            "salesInvoices": (list(company.invoices.values()), "salesInvoiceLines"),
            "salesCreditMemos": (list(company.credit_memos.values()), "salesCreditMemoLines"),
        }
        return table[name]

    async def _create(self, name: str, request: Request) -> Response:
        body = await _json_body(request)
        company = self.company
        if name == "salesOrders":
            key = str(body.get("externalDocumentNumber") or "")
            self.effects.attempt("salesOrder", key)
            order = company.create_order(body)
            self.effects.created("salesOrder", key, order.data["number"])
            return self._created(order, "salesOrderLines")
        if name == "customers":
            while self.racing_customers:  # another user's insert lands first
                company.create_customer(self.racing_customers.pop(0))
            key = str(body.get("number") or body.get("email") or "")
            self.effects.attempt("customer", key)
            try:
                customer = company.create_customer(body)
            except ODataError as exc:
                if exc.code == "Internal_EntityWithSameKeyExists":
                    self.effects.refused("customer", key)
                raise
            self.effects.created("customer", key, customer.data["number"])
            return self._created(customer, None)
        if name == "salesCreditMemos":
            key = str(body.get("externalDocumentNumber") or "")
            self.effects.attempt("salesCreditMemo", key)
            memo = company.create_credit_memo(body)
            self.effects.created("salesCreditMemo", key or memo.data["number"], "Draft")
            return self._created(memo, "salesCreditMemoLines")
        raise _not_allowed("POST")

    @staticmethod
    def _created(entity: Entity, child: str | None) -> Response:
        view = entity.view(child)
        return odata_response(view, 201, {"ETag": entity.etag})

    async def _one(self, request: Request, target: _Target) -> Response:
        name, key = target.segments[0]
        entity = self._find(name, str(key))
        if request.method == "GET":
            query = parse_query(dict(request.query_params), expandable=[_child(name)])
            child = _child(name) if _child(name) in query.expand else None
            return odata_response(
                select(entity.view(child), query.select), 200, {"ETag": entity.etag}
            )
        writable = {
            "customers": CUSTOMER_FIELDS,
            "salesOrders": ORDER_FIELDS,
            "salesCreditMemos": CREDIT_MEMO_WRITABLE,
        }.get(name)
        if writable is None or request.method not in {"PATCH", "DELETE"}:
            raise _not_allowed(request.method)
        if name == "salesOrders":
            self._interfere(entity)
        status = self.settings.conflict_status
        if_match = request.headers.get("if-match")
        if name == "salesCreditMemos":
            return await self._credit_memo_write(request, entity, if_match)
        if request.method == "DELETE":
            if name != "salesOrders":
                raise _not_allowed(request.method)
            self.company.delete_order(entity, if_match, status)
            return Response(status_code=204)
        changes = await _json_body(request)
        self.company.update(entity, changes, if_match, writable=writable, conflict_status=status)
        return odata_response(entity.view(), 200, {"ETag": entity.etag})

    async def _credit_memo_write(
        self, request: Request, memo: Entity, if_match: str | None
    ) -> Response:
        status = self.settings.conflict_status
        key = str(memo.data["externalDocumentNumber"] or memo.data["number"])
        if request.method == "DELETE":
            self.company.delete_credit_memo(memo, if_match, status)
            self.effects.state("salesCreditMemo", key, "Deleted")
            return Response(status_code=204)
        changes = await _json_body(request)
        self.company.update_credit_memo(memo, changes, if_match, status)
        return odata_response(memo.view(), 200, {"ETag": memo.etag})

    def _find(self, name: str, key: str) -> Entity:
        entities, _ = self._collection(name)
        for entity in entities:
            if entity.id == key:
                return entity
        table = {
            "customers": "Customer",
            "items": "Item",
            "salesOrders": "Sales Header",
            "salesShipments": "Sales Shipment Header",
            "salesInvoices": "Sales Invoice Header",
            "salesCreditMemos": "Sales Header",
        }
        raise not_found(table.get(name, name), f"SystemId='{key}'")

    def _interfere(self, order: Entity, line: Entity | None = None) -> None:
        spec = self.interferences.get(order.id)
        if spec is None:
            return
        if spec.line_id is not None:
            if line is None or line.id != spec.line_id:
                return
            line.data.update(spec.changes)
            line.version += 1
        else:
            order.data.update(spec.changes)
            self.company.touch(order)
        spec.times -= 1
        if spec.times <= 0:
            del self.interferences[order.id]

    async def _children(self, request: Request, target: _Target) -> Response:
        (name, key), (child, child_key) = target.segments
        if child != _child(name):
            raise _no_segment(child)
        entity = self._find(name, str(key))
        if child_key is not None:
            return await self._line(request, name, entity, child_key)
        if request.method == "POST" and name == "salesOrders":
            fields = await _json_body(request)
            key = f"{entity.data['externalDocumentNumber']}:{fields.get('lineObjectNumber', '')}"
            self.effects.attempt("salesOrderLine", key)
            line = self.company.add_line(entity, fields)
            self.effects.created("salesOrderLine", key, str(line.data["quantity"]))
            return odata_response(line.view(), 201, {"ETag": line.etag})
        if request.method != "GET":
            raise _not_allowed(request.method)
        query = parse_query(dict(request.query_params))
        views = [c.view() for c in entity.children]
        rows, next_link = page(views, query, page_size=self.settings.page_size, url=target.url)
        body: dict[str, Any] = {"value": [select(r, query.select) for r in rows]}
        if next_link is not None:
            body["@odata.nextLink"] = next_link
        return odata_response(body)

    async def _line(self, request: Request, name: str, document: Entity, line_id: str) -> Response:
        line = next((c for c in document.children if c.id == line_id), None)
        if line is None:
            raise not_found("Sales Line", f"SystemId='{line_id}'")
        if request.method == "GET":
            return odata_response(line.view(), 200, {"ETag": line.etag})
        if_match = request.headers.get("if-match")
        status = self.settings.conflict_status
        if request.method == "DELETE" and name == "salesOrders":
            self._interfere(document, line)
            self.company.delete_line(document, line, if_match, status)
            return Response(status_code=204)
        if request.method != "PATCH":
            raise _not_allowed(request.method)
        if name == "salesCreditMemos":
            changes = await _json_body(request)
            self.company.update_credit_memo_line(document, line, changes, if_match, status)
        elif name == "salesOrders" and document.id in self.company.orders:
            self._interfere(document, line)
            changes = await _json_body(request)
            self.company.update_line(document, line, changes, if_match, status)
        else:
            raise _not_allowed(request.method)
        return odata_response(line.view(), 200, {"ETag": line.etag})

    async def _action(self, request: Request, target: _Target) -> Response:
        (name, key), (action, _) = target.segments
        if not action.startswith("Microsoft.NAV."):
            return await self._children(request, target)
        bound = _ACTIONS.get((name, action))
        if bound is None:
            raise _no_segment(action)
        if request.method != "POST":
            raise _not_allowed(request.method)
        return await bound(self, self._find(name, str(key)))

    async def _ship_and_invoice(self, order: Entity) -> Response:
        self._interfere(order)
        ledger_key = str(order.data["externalDocumentNumber"] or order.data["number"])
        self.effects.attempt("shipAndInvoice", ledger_key)
        try:
            shipment, invoice = self.company.ship_and_invoice(order)
        except ODataError:
            self.effects.refused("shipAndInvoice", ledger_key)
            raise
        posted = shipment if shipment is not None else invoice
        self.effects.created(
            "shipAndInvoice", ledger_key, posted.data["number"] if posted else None
        )
        if invoice is not None:
            self.effects.attempt("salesInvoice", ledger_key)
            self.effects.created("salesInvoice", ledger_key, invoice.data["number"])
        if self.settings.delete_fully_invoiced and self.company.fully_invoiced(order):
            del self.company.orders[order.id]
        return Response(status_code=204)

    async def _post_credit_memo(self, memo: Entity) -> Response:
        ledger_key = str(memo.data["externalDocumentNumber"] or memo.data["number"])
        self.effects.attempt("postCreditMemo", ledger_key)
        try:
            self.company.post_credit_memo(memo)
        except ODataError:
            self.effects.refused("postCreditMemo", ledger_key)
            raise
        self.effects.created("postCreditMemo", ledger_key, memo.data["number"])
        self.effects.state("salesCreditMemo", ledger_key, memo.data["status"])
        return Response(status_code=204)


_ACTIONS: dict[tuple[str, str], Callable[..., Awaitable[Response]]] = {
    ("salesOrders", "Microsoft.NAV.shipAndInvoice"): BusinessCentralSimulator._ship_and_invoice,
    ("salesCreditMemos", "Microsoft.NAV.post"): BusinessCentralSimulator._post_credit_memo,
}
_ROUTES: dict[tuple[str, int, bool], Callable[..., Awaitable[Response]]] = {}
for _name in (
    "customers",
    "items",
    "salesOrders",
    "salesShipments",
    "salesInvoices",
    "salesCreditMemos",
):
    _ROUTES[(_name, 1, False)] = BusinessCentralSimulator._list
    _ROUTES[(_name, 1, True)] = BusinessCentralSimulator._one
    _ROUTES[(_name, 2, True)] = BusinessCentralSimulator._action


def _child(name: str) -> str:
    return {
        "salesOrders": "salesOrderLines",
        "salesShipments": "salesShipmentLines",
        "salesInvoices": "salesInvoiceLines",
        "salesCreditMemos": "salesCreditMemoLines",
    }.get(name, "")


def _segment(part: str) -> tuple[str, str | None]:
    match = _ENTITY_PATH.match(part)
    if match is None:
        if part.startswith("Microsoft.NAV."):
            return part, None
        raise _no_segment(part)
    return match.group(1), match.group(2)


def _no_segment(name: str) -> ODataError:
    return ODataError(
        404,
        "BadRequest_NotFound",
        f"The request URI is not valid. Since the segment '{name}' refers to a collection, "
        "this must be the last segment in the request URI or it must be followed by an "
        "function or action that can be bound to it otherwise all intermediate segments must "
        "refer to a single resource.",
    )


def _not_allowed(method: str) -> ODataError:
    return ODataError(405, "BadRequest_MethodNotAllowed", f"'{method}' requests are not allowed.")


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}", parse_float=Decimal)
    except ValueError:
        raise ODataError(400, "BadRequest", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ODataError(400, "BadRequest", "The request body must be a JSON object.")
    return body


def _aad_error(status: int, error: str, description: str) -> Response:
    return json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description.split(":")[0].removeprefix("AADSTS"))],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        },
        status,
    )


def _jwt_like(client_id: str) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header = part({"typ": "JWT", "alg": "RS256"})
    claims = part(
        {
            "aud": "https://api.businesscentral.dynamics.com",
            "appid": client_id,
            "jti": secrets.token_hex(8),
        }
    )
    return f"{header}.{claims}.{secrets.token_urlsafe(32)}"
