"""The NetSuite simulator: SuiteTalk REST record API, SuiteQL, async jobs, TBA, concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.kit import Scenario, Simulator, SimulatorHTTPError
from crossdock.sandbox.netsuite import _suiteql
from crossdock.sandbox.netsuite._erp import RECORD_TYPES, Erp
from crossdock.sandbox.netsuite._errors import (
    COLLECTION_MEDIA_TYPE,
    RECORD_MEDIA_TYPE,
    NetSuiteError,
    default_error,
    invalid_login,
)
from crossdock.sandbox.netsuite._json import dumps
from crossdock.sandbox.netsuite._tba import TbaRefused, TbaVerifier, base_string_uri, realm_for

REST = "/services/rest"
_ORIGIN: contextvars.ContextVar[str] = contextvars.ContextVar("netsuite_origin", default="")
RECORD_PREFIX = f"{REST}/record/v1"
DEFAULT_DATA: dict[str, Any] = {
    "account_id": "1234567-sb1",
    "consumers": {"crossdock-consumer-key": "crossdock-consumer-secret"},
    "tokens": {"crossdock-token-id": ["crossdock-consumer-key", "crossdock-token-secret"]},
    "concurrency_limit": 15,
    "max_skew_s": 300,
    "currency": "USD",
    "locations": [{"id": "1", "name": "Main Warehouse"}, {"id": "2", "name": "East Coast"}],
    "items": [
        {
            "id": "5501",
            "itemId": "SKU-RED-M",
            "externalId": "SKU-RED-M",
            "displayName": "Red shirt M",
            "basePrice": "25.20",
            "onHand": {"1": 50, "2": 10},
        },
        {
            "id": "5502",
            "itemId": "SKU-BLUE-L",
            "externalId": "SKU-BLUE-L",
            "displayName": "Blue shirt L",
            "basePrice": "30.00",
            "onHand": {"1": 3},
        },
    ],
    "nonInventoryItems": [
        {
            "id": "5901",
            "itemId": "CROSSDOCK-CUSTOM",
            "externalId": "CROSSDOCK-CUSTOM",
            "displayName": "Custom line (no SKU)",
        },
        {
            "id": "5902",
            "itemId": "CROSSDOCK-GIFTCARD",
            "externalId": "CROSSDOCK-GIFTCARD",
            "displayName": "Gift card sold (liability)",
        },
    ],
    "customers": [],
}


def default_scenario() -> Scenario:
    """A sandbox account (``1234567-sb1``): two locations, two stocked items, and the
    non-inventory sale items of custom lines and sold gift cards."""
    return Scenario(seed=7, data=copy.deepcopy(DEFAULT_DATA), name="netsuite-default")


@dataclass
class Job:
    """An asynchronous request: run at once, its captured answer kept for the result call."""

    id: str
    idempotency_key: str | None
    status: int
    headers: dict[str, str]
    body: bytes
    media_type: str | None


@dataclass
class Traffic:
    """What the concurrency governance saw."""

    in_flight: int = 0
    max_in_flight: int = 0
    refused: int = 0
    served: int = 0


class NetSuiteSimulator(Simulator):
    """A NetSuite account speaking SuiteTalk REST web services.

    Args:
        scenario: The account (default: `default_scenario`); ``data`` holds ``account_id``,
            ``consumers`` (key -> secret), ``tokens`` (id -> [consumer key, secret]),
            ``concurrency_limit``, ``max_skew_s``, ``currency``, ``locations``, ``items``
            (``id``, ``itemId``, ``externalId``, ``basePrice``, ``onHand`` by location id),
            ``nonInventoryItems`` (non-inventory sale items: ``id``, ``itemId``,
            ``externalId``) and ``customers``.
        seed: Overrides the scenario's seed.
        processing_s: Seconds each business call holds its concurrency slot (real calls take
            a few hundred milliseconds; tests of the limit set it).
        clock: Wall-clock seconds, for timestamps and the TBA skew check.
        concurrency_limit: Overrides the scenario's limit.
    """

    system = "netsuite"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        processing_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        concurrency_limit: int | None = None,
    ) -> None:
        self.processing_s = processing_s
        self.clock = clock
        self._limit_override = concurrency_limit
        super().__init__(scenario, seed=seed)

    # -- kit override points -----------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The default sandbox account."""
        return default_scenario()

    def _data(self, name: str) -> Any:
        return self.scenario.data.get(name, DEFAULT_DATA[name])

    def seed_state(self, scenario: Scenario) -> None:
        """Records, stock, nonces, jobs and counters start afresh."""
        data = {**DEFAULT_DATA, **scenario.data}
        self.account_id = str(data["account_id"])
        self.realm = realm_for(self.account_id)
        self.concurrency_limit = int(
            self._limit_override if self._limit_override is not None else data["concurrency_limit"]
        )
        tokens = {k: (str(v[0]), str(v[1])) for k, v in data["tokens"].items()}
        self.tba = TbaVerifier(
            self.realm,
            dict(data["consumers"]),
            tokens,
            max_skew_s=float(data["max_skew_s"]),
            now=self.clock,
        )
        self.erp = Erp(data, self.effects, now=lambda: datetime.fromtimestamp(self.clock(), UTC))
        self.jobs: dict[str, Job] = {}
        self.job_keys: dict[str, str] = {}
        self.traffic = Traffic()
        self._job_counter = 0

    def error_response(self, status: int) -> Response:
        """NetSuite's error shape for an injected or routed status."""
        return default_error(status)

    def credentials(self) -> dict[str, Any]:
        """Account, realm, the first consumer and token, and the REST root."""
        consumer, secret = next(iter(self._data("consumers").items()))
        token_id, (_, token_secret) = next(
            (k, v) for k, v in self._data("tokens").items() if v[0] == consumer
        )
        return {
            "account_id": self.account_id,
            "realm": self.realm,
            "consumer_key": consumer,
            "consumer_secret": secret,
            "token_id": token_id,
            "token_secret": token_secret,
            "rest_url": "{base_url}" + REST,
            "concurrency_limit": self.concurrency_limit,
        }

    async def authenticate(self, request: Request) -> None:
        """Token-based auth, verified exactly; refused with 401 INVALID_LOGIN."""
        scope = request.scope
        # The path as sent (still percent-encoded), as the client signed it.
        uri = base_string_uri(scope["scheme"], request.headers.get("host", ""), _raw_path(scope))
        query = scope.get("query_string", b"").decode("latin-1")
        try:
            self.tba.verify(request.method, uri, query, request.headers.get("authorization"))
        except TbaRefused:
            raise invalid_login() from None

    def register_routes(self, app: FastAPI) -> None:
        """Record API, SuiteQL, async jobs and governance limits."""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        app.add_api_route(f"{RECORD_PREFIX}/{{path:path}}", self._record_route, methods=methods)
        app.add_api_route(f"{REST}/query/v1/suiteql", self._suiteql_route, methods=["POST"])
        app.add_api_route(f"{REST}/async/v1/job/{{job_id}}", self._job_route, methods=["GET"])
        app.add_api_route(
            f"{REST}/async/v1/job/{{job_id}}/task/{{task_id}}/result",
            self._job_result_route,
            methods=["GET"],
        )
        app.add_api_route(
            f"{REST}/system/v1/governanceLimits", self._governance_route, methods=["GET"]
        )

    def register_admin_routes(self, router: APIRouter) -> None:
        """``/_sandbox/netsuite/{stock,traffic,records/{type},tba/refuse-next}``."""
        router.add_api_route("/netsuite/stock", self._admin_stock, methods=["POST", "GET"])
        router.add_api_route("/netsuite/traffic", self._admin_traffic, methods=["GET"])
        router.add_api_route("/netsuite/records/{kind}", self._admin_records, methods=["GET"])
        router.add_api_route("/netsuite/tba/refuse-next", self._admin_refuse, methods=["POST"])

    # -- the pipeline of every business call -------------------------------------------------

    @property
    def effective_limit(self) -> int:
        """The concurrency limit in force: the account's, tightened by an injected throttle."""
        return max(1, int(self.concurrency_limit * self.faults.throttle_factor))

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        traffic = self.traffic
        limit = self.effective_limit
        if traffic.in_flight >= limit:
            traffic.refused += 1
            raise NetSuiteError(
                429,
                "CONCURRENCY_LIMIT_EXCEEDED",
                f"Concurrent request limit exceeded: the account allows {limit} concurrent "
                "requests. Retry later.",
            )
        traffic.in_flight += 1
        traffic.max_in_flight = max(traffic.max_in_flight, traffic.in_flight)
        try:
            if self.processing_s:
                await asyncio.sleep(self.processing_s)
            yield
        finally:
            traffic.in_flight -= 1
            traffic.served += 1

    async def _serve(
        self, request: Request, work: Callable[[bytes], Response], *, asynchronous: bool = True
    ) -> Response:
        await self.authenticate(request)
        async with self._slot():
            body = await request.body()
            prefer = request.headers.get("prefer", "").lower()
            if asynchronous and "respond-async" in prefer:
                key = request.headers.get("x-netsuite-idempotency-key")
                return self._submit_job(work, body, key)
            return work(body)

    def _submit_job(
        self, work: Callable[[bytes], Response], body: bytes, key: str | None
    ) -> Response:
        if key is not None and key in self.job_keys:
            original = self.job_keys[key]
            location = f"{REST}/async/v1/job/{original}"
            self.effects.refused("asyncJob", key)
            raise NetSuiteError(
                400,
                "IDEMPOTENCY_ERROR",
                f"A request with the idempotency key {key} was already submitted as job "
                f"{original}: {location}.",
                title="Conflict",
                extra={"o:errorHeader": "X-NetSuite-Idempotency-Key"},
                headers={"Location": location},
            )
        try:
            answer = work(body)
        except SimulatorHTTPError as exc:
            answer = exc.response
        self._job_counter += 1
        job_id = str(self._job_counter)
        headers = {k: v for k, v in answer.headers.items() if k.lower() in {"location"}}
        self.jobs[job_id] = Job(
            job_id, key, answer.status_code, headers, bytes(answer.body), answer.media_type
        )
        if key is not None:
            self.job_keys[key] = job_id
            self.effects.attempt("asyncJob", key)
            self.effects.created("asyncJob", key, state=answer.status_code)
        return Response(
            status_code=202,
            headers={
                "Location": f"{REST}/async/v1/job/{job_id}",
                "Preference-Applied": "respond-async",
            },
        )

    # -- record API --------------------------------------------------------------------------

    async def _record_route(self, request: Request, path: str) -> Response:
        _ORIGIN.set(f"{request.url.scheme}://{request.headers.get('host', '')}")
        method = request.method
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        # Split before decoding, so that an external id may hold an encoded "/".
        raw = _raw_path(request.scope)[len(RECORD_PREFIX) :]
        parts = [unquote(segment) for segment in raw.strip("/").split("/")]
        return await self._serve(request, lambda body: self._record(method, parts, query, body))

    def _record(
        self, method: str, parts: list[str], query: dict[str, str], body: bytes
    ) -> Response:
        path = "/".join(parts)
        kind = parts[0]
        if kind not in RECORD_TYPES:
            raise NetSuiteError(
                404, "INVALID_URL", f"Record type '{kind}' does not exist.", title="Not Found"
            )
        if len(parts) == 1:
            if method == "POST":
                record_id = self.erp.create(kind, _json_body(body))
                return self._created(kind, record_id)
            if method == "GET":
                return self._list(kind, query)
        elif len(parts) == 2:
            key = parts[1]
            if method == "PUT":
                if not key.startswith("eid:") or len(key) == 4:
                    raise NetSuiteError(
                        400, "INVALID_REQUEST", "PUT is an upsert: address the record as eid:<id>."
                    )
                record_id, _ = self.erp.upsert(kind, key[4:], _json_body(body))
                return self._created(kind, record_id)
            record_id = self.erp.resolve(kind, key)
            if method == "GET":
                return self._read(kind, record_id, query)
            if method == "PATCH":
                self.erp.patch(kind, record_id, _json_body(body))
                return Response(status_code=204)
            if method == "DELETE":
                self.erp.delete(kind, record_id)
                return Response(status_code=204)
        elif len(parts) == 4 and parts[2] == "!transform" and method == "POST":
            record_id = self.erp.resolve(kind, parts[1])
            target = parts[3]
            new_id = self.erp.transform(kind, record_id, target, _json_body(body or b"{}"))
            return self._created(target, new_id)
        raise NetSuiteError(
            405 if len(parts) <= 2 else 404,
            "INVALID_REQUEST",
            f"{method} is not supported on record/v1/{path}.",
        )

    def _created(self, kind: str, record_id: str) -> Response:
        return Response(status_code=204, headers={"Location": self._url(kind, record_id)})

    def _url(self, kind: str, record_id: str) -> str:
        # Absolute, on the host the client called, as NetSuite answers on the account's host.
        return f"{_ORIGIN.get()}{RECORD_PREFIX}/{kind}/{record_id}"

    def _read(self, kind: str, record_id: str, query: dict[str, str]) -> Response:
        record = self.erp.snapshot(kind, record_id)
        expand = query.get("expandSubResources", "false").lower() == "true"
        if "item" in record and not expand:
            record["item"] = {
                "links": [{"rel": "self", "href": self._url(kind, record_id) + "/item"}]
            }
        if "fields" in query:
            wanted = {f.strip() for f in query["fields"].split(",")} | {"id"}
            record = {k: v for k, v in record.items() if k in wanted}
        record["links"] = [{"rel": "self", "href": self._url(kind, record_id)}]
        return Response(dumps(record), 200, media_type=RECORD_MEDIA_TYPE)

    def _list(self, kind: str, query: dict[str, str]) -> Response:
        ids = sorted(self.erp.records[kind], key=lambda i: (len(i), i))
        limit, offset = _paging(query)
        page = ids[offset : offset + limit]
        body = {
            "links": [{"rel": "self", "href": f"{RECORD_PREFIX}/{kind}"}],
            "count": len(page),
            "hasMore": offset + len(page) < len(ids),
            "offset": offset,
            "totalResults": len(ids),
            "items": [
                {"links": [{"rel": "self", "href": self._url(kind, i)}], "id": i} for i in page
            ],
        }
        return Response(dumps(body), 200, media_type=COLLECTION_MEDIA_TYPE)

    # -- SuiteQL -----------------------------------------------------------------------------

    async def _suiteql_route(self, request: Request) -> Response:
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        transient = "transient" in request.headers.get("prefer", "").lower()
        return await self._serve(request, lambda body: self._suiteql(query, body, transient))

    def _suiteql(self, query: dict[str, str], body: bytes, transient: bool) -> Response:
        if not transient:
            raise NetSuiteError(
                400,
                "INVALID_PARAMETER",
                "SuiteQL requests need the header Prefer: transient.",
                extra={"o:errorHeader": "Prefer"},
            )
        payload = _json_body(body)
        statement = payload.get("q")
        if not isinstance(statement, str) or not statement.strip():
            raise NetSuiteError(400, "INVALID_CONTENT", 'The body must be {"q": "SELECT ..."}.')
        limit, offset = _paging(query)
        rows = _suiteql.run(self.erp, statement)
        page = rows[offset : offset + limit]
        has_more = offset + len(page) < len(rows)
        base = f"{REST}/query/v1/suiteql"
        links = [{"rel": "self", "href": f"{base}?{urlencode({'limit': limit, 'offset': offset})}"}]
        if has_more:
            nxt = urlencode({"limit": limit, "offset": offset + limit})
            links.append({"rel": "next", "href": f"{base}?{nxt}"})
        body_out = {
            "links": links,
            "count": len(page),
            "hasMore": has_more,
            "offset": offset,
            "totalResults": len(rows),
            "items": [{"links": [], **row} for row in page],
        }
        return Response(dumps(body_out), 200, media_type=COLLECTION_MEDIA_TYPE)

    # -- async jobs and governance -----------------------------------------------------------

    async def _job_route(self, request: Request, job_id: str) -> Response:
        return await self._serve(request, lambda _: self._job(job_id), asynchronous=False)

    def _job(self, job_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            raise NetSuiteError(404, "NONEXISTENT_ID", f"Job {job_id} does not exist.")
        href = f"{REST}/async/v1/job/{job_id}"
        return _json_response(
            {
                "links": [{"rel": "self", "href": href}],
                "id": job_id,
                "completed": True,
                "progress": "succeeded" if job.status < 400 else "failed",
                "task": {
                    "links": [{"rel": "related", "href": f"{href}/task/{job_id}/result"}],
                },
            }
        )

    async def _job_result_route(self, request: Request, job_id: str, task_id: str) -> Response:
        return await self._serve(
            request, lambda _: self._job_result(job_id, task_id), asynchronous=False
        )

    def _job_result(self, job_id: str, task_id: str) -> Response:
        job = self.jobs.get(job_id)
        if job is None or task_id != job_id:
            raise NetSuiteError(
                404, "NONEXISTENT_ID", f"Job {job_id} task {task_id} does not exist."
            )
        return Response(job.body, job.status, headers=job.headers, media_type=job.media_type)

    async def _governance_route(self, request: Request) -> Response:
        limit = self.concurrency_limit
        return await self._serve(
            request,
            lambda _: _json_response(
                {"accountConcurrencyLimit": limit, "accountUnallocatedConcurrencyLimit": limit}
            ),
            asynchronous=False,
        )

    # -- admin -------------------------------------------------------------------------------

    async def _admin_stock(self, request: Request) -> Response:
        if request.method == "POST":
            body = _json_body(await request.body())
            try:
                item = self.erp.resolve("inventoryItem", str(body["item"]))
                self.erp.set_on_hand(item, str(body["location"]), int(body["on_hand"]))
            except (KeyError, ValueError, TypeError):
                return _json_response({"error": "give item, location and on_hand"}, 400)
        rows = [
            {
                "item": item,
                "location": location,
                "on_hand": stock.on_hand,
                "committed": stock.committed,
                "available": stock.available,
            }
            for (item, location), stock in sorted(self.erp.stock.items())
        ]
        return _json_response({"stock": rows})

    async def _admin_traffic(self) -> Response:
        t = self.traffic
        return _json_response(
            {
                "in_flight": t.in_flight,
                "max_in_flight": t.max_in_flight,
                "refused": t.refused,
                "served": t.served,
                "limit": self.effective_limit,
                "auth_refusals": list(self.tba.refusals),
            }
        )

    async def _admin_refuse(self, request: Request) -> Response:
        body = _json_body(await request.body())
        count = body.get("count", 1)
        if not isinstance(count, int) or count < 0:
            return _json_response({"error": "count must be a whole number >= 0"}, 400)
        self.tba.refuse_next = count
        return _json_response({"refuse_next": count})

    async def _admin_records(self, kind: str) -> Response:
        if kind not in RECORD_TYPES:
            return _json_response({"error": f"unknown record type {kind!r}"}, 404)
        return _json_response({"records": list(self.erp.records[kind].values())})


def _raw_path(scope: Any) -> str:
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if raw else str(scope["path"])


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status, media_type="application/json; charset=utf-8")


def _paging(query: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(query.get("limit", "1000"))
        offset = int(query.get("offset", "0"))
    except ValueError:
        raise NetSuiteError(
            400, "INVALID_PARAMETER", "limit and offset must be whole numbers."
        ) from None
    if not 1 <= limit <= 1000 or offset < 0:
        raise NetSuiteError(
            400, "INVALID_PARAMETER", "limit must be 1 to 1000 and offset 0 or more."
        )
    return limit, offset


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NetSuiteError(
            400, "INVALID_CONTENT", f"The request body is not valid JSON: {exc}."
        ) from None
    if not isinstance(body, dict):
        raise NetSuiteError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
    return body
