"""The connector pipeline against a real loopback server: auth refresh, rate limits,
classification, deadlines, ambiguous outcomes settled by lookup, and the breaker."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crossdock.backbone.store import Command
from crossdock.connectorkit import (
    DEFAULT_ERROR_TABLE,
    AuthFailedError,
    ConflictError,
    Connector,
    Outcome,
    PermanentFailureError,
    RateLimitedError,
    RetryLaterError,
    Rule,
    handles,
)
from crossdock.connectorkit.auth import OAuth2ClientCredentials, OAuth2JwtBearer
from crossdock.connectorkit.auth._oauth2 import JWT_BEARER_GRANT
from crossdock.connectorkit.http import AiohttpTransport, HttpClient
from crossdock.runtime.clock import ManualClock
from crossdock.runtime.resilience import (
    BreakerConfig,
    BreakerState,
    CircuitBreaker,
    ConcurrencySlots,
    Feedback,
    LeakyBucket,
    WindowBudget,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


@dataclass
class FakeSystem:
    """State of the fake external system behind the test server."""

    tokens_issued: int = 0
    valid: set[str] = field(default_factory=set)
    orders: dict[str, int] = field(default_factory=dict)
    create_attempts: int = 0
    order_mode: str = "normal"
    throttle_next: int = 0
    fail_next: int = 0
    hits: int = 0
    jwt_claims: list[dict[str, Any]] = field(default_factory=list)

    def issue(self) -> JSONResponse:
        self.tokens_issued += 1
        token = f"tok-{self.tokens_issued}"
        self.valid.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": 3600, "instance_url": "x"}
        )


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def build_app(system: FakeSystem) -> Starlette:
    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if form.get("grant_type") == "client_credentials":
            if form.get("client_id") != "cid" or form.get("client_secret") != "csecret":
                return JSONResponse({"error": "invalid_client"}, status_code=400)
            await asyncio.sleep(0.05)  # a slow token endpoint invites a thundering herd
            return system.issue()
        if form.get("grant_type") == JWT_BEARER_GRANT:
            header, claims, signature = str(form.get("assertion")).split(".")
            KEY.public_key().verify(
                _unb64(signature),
                f"{header}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            assert json.loads(_unb64(header)) == {"alg": "RS256", "typ": "JWT"}
            system.jwt_claims.append(json.loads(_unb64(claims)))
            return system.issue()
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    def authorized(request: Request) -> bool:
        value = request.headers.get("authorization", "")
        return value.startswith("Bearer ") and value[7:] in system.valid

    async def orders(request: Request) -> Response:
        system.hits += 1
        if not authorized(request):
            return JSONResponse(
                [{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}], 401
            )
        if request.method == "GET":
            ref = request.query_params["ref"]
            found = [{"id": system.orders[ref], "ref": ref}] if ref in system.orders else []
            return JSONResponse(found)
        body = json.loads(await request.body())
        system.create_attempts += 1
        if system.order_mode == "hang_before_apply":
            await asyncio.sleep(3600)
        if body["ref"] in system.orders:
            return JSONResponse([{"message": "dup", "errorCode": "DUPLICATE_VALUE"}], 400)
        system.orders[body["ref"]] = len(system.orders) + 1
        if system.order_mode == "hang_after_apply":
            await asyncio.sleep(3600)
        return JSONResponse({"id": system.orders[body["ref"]], "total": body["total"]}, 201)

    async def inventory(request: Request) -> Response:
        system.hits += 1
        if not authorized(request):
            return JSONResponse({"error": "invalid_token"}, 401)
        if system.throttle_next > 0:
            system.throttle_next -= 1
            return JSONResponse(
                {"errors": "Exceeded 2 calls per second"}, 429, {"Retry-After": "2.0"}
            )
        if system.fail_next > 0:
            system.fail_next -= 1
            return JSONResponse({"error": "unavailable"}, 503)
        return JSONResponse({"ok": True}, headers={"X-Shopify-Shop-Api-Call-Limit": "39/40"})

    async def missing(request: Request) -> Response:
        return JSONResponse({"error": {"code": "BadRequest_NotFound", "message": "no"}}, 404)

    return Starlette(
        routes=[
            Route("/oauth/token", token, methods=["POST"]),
            Route("/orders", orders, methods=["GET", "POST"]),
            Route("/inventory", inventory, methods=["POST"]),
            Route("/missing", missing),
        ]
    )


class DemoConnector(Connector):
    system = "demo"
    error_table = DEFAULT_ERROR_TABLE.extend(
        Rule(Outcome.CONFLICT, status=400, codes={"DUPLICATE_VALUE"}, reason="duplicate order")
    )
    default_timeout = 0.5

    @handles("inventory.set")
    async def set_inventory(self, command: Command) -> dict[str, Any]:
        response = await self.call(
            "POST",
            "/inventory",
            json=command.payload,
            headers={"Idempotency-Key": command.idempotency_key},
        )
        return dict(response.json())

    @handles("order.create", idempotent=False)
    async def create_order(self, command: Command) -> dict[str, Any]:
        response = await self.call(
            "POST", "/orders", json={"ref": command.idempotency_key, **command.payload}
        )
        return {"order_id": response.json()["id"]}

    async def settle_ambiguous(self, command: Command) -> dict[str, Any] | None:
        found = (await self.call("GET", "/orders", params={"ref": command.idempotency_key})).json()
        return {"order_id": found[0]["id"]} if found else None


@dataclass
class World:
    system: FakeSystem
    connector: DemoConnector
    auth: OAuth2ClientCredentials
    http: HttpClient
    base_url: str


@pytest.fixture
async def world(serve: Callable[[Any], Any]) -> AsyncIterator[World]:
    system = FakeSystem()
    async with serve(build_app(system)) as base_url:
        http = HttpClient(AiohttpTransport(), default_timeout=5)
        auth = OAuth2ClientCredentials(
            http, f"{base_url}/oauth/token", client_id="cid", client_secret="csecret"
        )
        breaker = CircuitBreaker("demo", config=BreakerConfig(failure_threshold=3, open_seconds=60))
        connector = DemoConnector(http=http, base_url=base_url, auth=auth, breaker=breaker)
        try:
            yield World(system, connector, auth, http, base_url)
        finally:
            await http.aclose()


def command(kind: str, key: str, **payload: Any) -> Command:
    return Command(idempotency_key=key, destination="demo", kind=kind, payload=payload)


async def test_a_command_is_performed_with_a_cached_token(world: World) -> None:
    for i in range(3):
        result = await world.connector.perform(
            command("order.create", f"k{i}", total=Decimal("12.50"))
        )
        assert result == {"order_id": i + 1}
    assert world.system.tokens_issued == 1


async def test_a_401_refreshes_the_token_once_under_concurrency(world: World) -> None:
    await world.connector.perform(command("inventory.set", "warm", sku="A", available=1))
    world.system.valid.clear()  # every session expires at once
    results = await asyncio.gather(
        *(
            world.connector.perform(command("inventory.set", f"i{i}", sku="A", available=i))
            for i in range(32)
        )
    )
    assert all(r == {"ok": True} for r in results)
    assert world.system.tokens_issued == 2  # single flight: one refresh for 32 callers


async def test_a_token_refused_after_refresh_is_an_auth_failure(world: World) -> None:
    await world.connector.perform(command("inventory.set", "warm", sku="A", available=1))
    original = world.system.issue

    def useless() -> JSONResponse:
        world.system.tokens_issued += 1
        return JSONResponse({"access_token": "revoked", "expires_in": 3600})

    world.system.issue = useless  # type: ignore[method-assign]
    world.system.valid.clear()
    with pytest.raises(AuthFailedError):
        await world.connector.perform(command("inventory.set", "x", sku="A", available=1))
    world.system.issue = original  # type: ignore[method-assign]


async def test_bad_client_credentials_are_permanent_and_secret_free(world: World) -> None:
    auth = OAuth2ClientCredentials(
        world.http, f"{world.base_url}/oauth/token", client_id="cid", client_secret="wrong!"
    )
    connector = DemoConnector(http=world.http, base_url=world.base_url, auth=auth)
    with pytest.raises(AuthFailedError) as raised:
        await connector.perform(command("inventory.set", "x", sku="A", available=1))
    assert "invalid_client" in str(raised.value)
    assert "wrong!" not in str(raised.value) + repr(auth)


async def test_jwt_bearer_token_is_signed_rs256_with_the_claims(world: World) -> None:
    clock = ManualClock()
    auth = OAuth2JwtBearer(
        world.http,
        f"{world.base_url}/oauth/token",
        issuer="consumer-key",
        subject="integration@acme.example",
        audience="https://login.salesforce.com",
        private_key_pem=KEY_PEM,
        clock=clock,
    )
    token = await auth.token()
    assert token.value.reveal().startswith("tok-")
    claims = world.system.jwt_claims[-1]
    assert claims["iss"] == "consumer-key"
    assert claims["sub"] == "integration@acme.example"
    assert claims["aud"] == "https://login.salesforce.com"
    assert claims["exp"] == int(clock.now().timestamp()) + 180
    assert "PRIVATE" not in repr(auth)
    clock.advance(3600 - 59)  # within the refresh margin: a new token
    assert (await auth.token()).value != token.value


async def test_an_expiring_token_is_refreshed_before_use(world: World) -> None:
    clock = ManualClock()
    auth = OAuth2ClientCredentials(
        world.http,
        f"{world.base_url}/oauth/token",
        client_id="cid",
        client_secret="csecret",
        clock=clock,
    )
    first = await auth.token()
    clock.advance(1000)
    assert await auth.token() is first
    clock.advance(2600)
    assert (await auth.token()).value.reveal() != first.value.reveal()
    assert auth.fetches == 2


async def test_429_is_rate_limited_with_its_retry_after_and_pauses_the_budget(world: World) -> None:
    budget = LeakyBucket("demo")
    connector = DemoConnector(
        http=world.http, base_url=world.base_url, auth=world.auth, rate_budget=budget
    )
    world.system.throttle_next = 1
    with pytest.raises(RateLimitedError) as raised:
        await connector.perform(command("inventory.set", "x", sku="A", available=1))
    assert raised.value.retry_after == 2.0
    assert budget.wait_time() > 1.5
    assert budget.throttled == 1


async def test_rate_limit_headers_feed_the_budget(world: World) -> None:
    budget = LeakyBucket("demo")
    connector = DemoConnector(
        http=world.http, base_url=world.base_url, auth=world.auth, rate_budget=budget
    )
    await connector.perform(command("inventory.set", "x", sku="A", available=1))
    assert budget.level >= 38  # the server said 39/40


async def test_duplicate_is_a_conflict_and_unknown_kinds_are_permanent(world: World) -> None:
    await world.connector.call("POST", "/orders", json={"ref": "dup", "total": 1})
    with pytest.raises(ConflictError):
        await world.connector.call("POST", "/orders", json={"ref": "dup", "total": 1})
    with pytest.raises(PermanentFailureError, match="no handler"):
        await world.connector.perform(command("order.teleport", "x"))
    with pytest.raises(PermanentFailureError) as raised:
        await world.connector.call("GET", "/missing")
    assert raised.value.classification is not None
    assert raised.value.classification.codes == ("BadRequest_NotFound",)


async def test_timeout_after_the_effect_is_settled_by_lookup_not_resent(world: World) -> None:
    world.system.order_mode = "hang_after_apply"
    result = await world.connector.perform(command("order.create", "amb-1", total=5))
    assert result == {"order_id": 1}
    assert world.system.create_attempts == 1


async def test_timeout_before_the_effect_is_settled_as_not_applied(world: World) -> None:
    world.system.order_mode = "hang_before_apply"
    with pytest.raises(RetryLaterError, match="settled as not applied"):
        await world.connector.perform(command("order.create", "amb-2", total=5))
    world.system.order_mode = "normal"
    assert await world.connector.perform(command("order.create", "amb-2", total=5), attempt=2) == {
        "order_id": 1
    }
    assert world.system.create_attempts == 2


async def test_a_retry_of_a_non_idempotent_command_settles_first(world: World) -> None:
    await world.connector.perform(command("order.create", "crash-1", total=5))
    # The worker died before recording the result; attempt 2 must not create a second order.
    assert await world.connector.perform(
        command("order.create", "crash-1", total=5), attempt=2
    ) == {"order_id": 1}
    assert world.system.create_attempts == 1


async def test_an_idempotent_call_that_times_out_is_simply_retryable(world: World) -> None:
    world.system.order_mode = "hang_after_apply"
    with pytest.raises(RetryLaterError, match="idempotent"):
        await world.connector.call(
            "POST", "/orders", json={"ref": "idem", "total": 1}, headers={"Idempotency-Key": "idem"}
        )


async def test_the_breaker_opens_on_server_errors_and_stops_calling(world: World) -> None:
    await world.connector.perform(command("inventory.set", "warm", sku="A", available=1))
    world.system.fail_next = 10
    for _ in range(3):
        with pytest.raises(RetryLaterError):
            await world.connector.perform(command("inventory.set", "x", sku="A", available=1))
    assert await world.connector.breaker.state() is BreakerState.OPEN
    hits = world.system.hits
    with pytest.raises(RetryLaterError, match="circuit") as raised:
        await world.connector.perform(command("inventory.set", "x", sku="A", available=1))
    assert raised.value.retry_after is not None
    assert world.system.hits == hits


async def test_nothing_listening_is_retryable_and_counts_for_the_breaker(world: World) -> None:
    connector = DemoConnector(http=world.http, base_url="http://127.0.0.1:9", auth=world.auth)
    with pytest.raises(RetryLaterError, match="not sent"):
        await connector.call("POST", "/orders", json={"ref": "n", "total": 1})


async def test_a_caller_deadline_already_passed_is_retryable_and_nothing_is_sent(
    world: World,
) -> None:
    hits = world.system.hits
    past = asyncio.get_running_loop().time() - 1
    with pytest.raises(RetryLaterError, match="not sent"):
        await world.connector.call(
            "POST", "/orders", json={"ref": "late", "total": 1}, deadline=past
        )
    assert world.system.hits == hits
    assert world.system.orders == {}


async def test_a_budget_wait_beyond_the_deadline_reschedules_instead_of_blocking(
    world: World,
) -> None:
    budget = WindowBudget("demo", limit=1, window=600)
    connector = DemoConnector(
        http=world.http, base_url=world.base_url, auth=world.auth, rate_budget=budget
    )
    await connector.perform(command("inventory.set", "a", sku="A", available=1))
    hits = world.system.hits
    with pytest.raises(RateLimitedError, match="deadline") as raised:
        await connector.perform(command("inventory.set", "b", sku="A", available=2))
    assert raised.value.retry_after is not None
    assert raised.value.retry_after > 500
    assert world.system.hits == hits
    assert await connector.breaker.state() is BreakerState.CLOSED


async def test_a_full_set_of_slots_gives_up_at_the_deadline(world: World) -> None:
    slots = ConcurrencySlots("demo", limit=1)
    connector = DemoConnector(
        http=world.http, base_url=world.base_url, auth=world.auth, rate_budget=slots
    )
    held = await slots.acquire()
    with pytest.raises(RateLimitedError, match="before this call's deadline"):
        await connector.call("POST", "/inventory", json={}, timeout=0.2)
    slots.release(held, Feedback(status=200))
    assert (await connector.call("POST", "/inventory", json={}, timeout=2)).status == 200
