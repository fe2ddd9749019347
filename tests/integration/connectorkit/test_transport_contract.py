"""One contract suite for every `Transport`: aiohttp against a real server, and in-process."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crossdock.connectorkit.http import (
    AiohttpTransport,
    AmbiguousRequestError,
    HttpClient,
    HttpResponse,
    InProcessTransport,
    RequestNotSentError,
)


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "raw_query": request.url.query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": body.decode(),
        },
        headers={"X-Echo": "yes"},
    )


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    headers = (
        {"Retry-After": request.query_params["retry_after"]}
        if "retry_after" in request.query_params
        else {}
    )
    return Response(
        b'{"error": "nope"}', status_code=code, headers=headers, media_type="application/json"
    )


async def hang(request: Request) -> Response:
    await asyncio.sleep(3600)
    return Response(b"never")


async def decimal(request: Request) -> Response:
    return Response(b'{"price": 12.50, "qty": 3, "total": "37.50"}', media_type="application/json")


async def boom(request: Request) -> Response:
    raise RuntimeError("the app failed")


APP = Starlette(
    routes=[
        Route("/echo/{rest:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/status/{code:int}", status, methods=["GET", "POST"]),
        Route("/hang", hang, methods=["GET", "POST"]),
        Route("/decimal", decimal),
        Route("/boom", boom),
    ]
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Target:
    """A client wired to the contract app, and a URL where nothing listens."""

    def __init__(self, client: HttpClient, unreachable: str) -> None:
        self.client = client
        self.unreachable = unreachable


@pytest.fixture(params=["aiohttp", "in-process"])
async def target(
    request: pytest.FixtureRequest, serve: Callable[[Any], Any]
) -> AsyncIterator[Target]:
    if request.param == "aiohttp":
        async with serve(APP) as base_url:
            client = HttpClient(AiohttpTransport(), base_url=base_url, default_timeout=5)
            try:
                yield Target(client, f"http://127.0.0.1:{_closed_port()}/echo/x")
            finally:
                await client.aclose()
    else:
        transport = InProcessTransport(APP, hosts={"contract.test"})
        client = HttpClient(transport, base_url="http://contract.test", default_timeout=5)
        yield Target(client, "http://elsewhere.test/echo/x")
        await client.aclose()


async def test_request_arrives_exactly_as_built(target: Target) -> None:
    response = await target.client.request(
        "post",
        "/echo/orders",
        params={"q": "a b+c", "name": "Zoë~", "empty": ""},
        headers={"X-Trace": "t-1"},
        json={"amount": Decimal("12.50"), "sku": "ABC"},
    )
    assert response.status == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/echo/orders"
    assert seen["raw_query"] == "q=a%20b%2Bc&name=Zo%C3%AB~&empty="
    assert seen["headers"]["x-trace"] == "t-1"
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["body"] == '{"amount":12.50,"sku":"ABC"}'


async def test_response_headers_are_case_insensitive(target: Target) -> None:
    response = await target.client.request("GET", "/echo/h")
    assert response.headers["x-echo"] == response.headers["X-ECHO"] == "yes"


@pytest.mark.parametrize("code", [404, 409, 429, 500, 503])
async def test_error_statuses_are_returned_not_raised(target: Target, code: int) -> None:
    response = await target.client.request("GET", f"/status/{code}", params={"retry_after": "7"})
    assert response.status == code
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"error": "nope"}
    assert not response.is_success


async def test_json_numbers_decode_as_decimal(target: Target) -> None:
    data = (await target.client.request("GET", "/decimal")).json()
    assert data == {"price": Decimal("12.50"), "qty": 3, "total": "37.50"}
    assert isinstance(data["price"], Decimal)


async def test_a_hanging_call_ends_at_its_deadline_as_ambiguous(target: Target) -> None:
    with pytest.raises(AmbiguousRequestError) as raised:
        await target.client.request("POST", "/hang", json={}, timeout=0.3)
    assert raised.value.timed_out


async def test_an_absolute_deadline_is_honoured(target: Target) -> None:
    deadline = asyncio.get_running_loop().time() + 0.3
    with pytest.raises(AmbiguousRequestError):
        await target.client.request("GET", "/hang", deadline=deadline)


async def test_nothing_listening_means_not_sent(target: Target) -> None:
    with pytest.raises(RequestNotSentError):
        await target.client.request("POST", target.unreachable, json={})


async def test_a_passed_deadline_is_not_sent(target: Target) -> None:
    deadline = asyncio.get_running_loop().time() - 1
    with pytest.raises(RequestNotSentError, match="deadline"):
        await target.client.request("GET", "/echo/late", deadline=deadline)


@pytest.mark.parametrize("bad_timeout", [0, -1, math.inf, math.nan])
async def test_a_call_without_a_finite_deadline_is_impossible(
    target: Target, bad_timeout: float
) -> None:
    with pytest.raises(ValueError, match="timeout"):
        await target.client.request("GET", "/echo/x", timeout=bad_timeout)


async def test_an_app_failure_is_a_500_response(target: Target) -> None:
    response = await target.client.request("GET", "/boom")
    assert response.status == 500


async def test_many_calls_in_flight_on_the_pool(target: Target) -> None:
    async def one(i: int) -> HttpResponse:
        return await target.client.request("GET", f"/echo/{i}")

    responses = await asyncio.gather(*(one(i) for i in range(64)))
    assert [r.json()["path"] for r in responses] == [f"/echo/{i}" for i in range(64)]


async def test_idempotency_is_inferred_from_method_and_key(target: Target) -> None:
    client = target.client
    assert client.build_request("GET", "/echo/a").idempotent
    assert client.build_request("PUT", "/echo/a").idempotent
    assert not client.build_request("POST", "/echo/a").idempotent
    assert client.build_request("POST", "/echo/a", headers={"Idempotency-Key": "k"}).idempotent
    assert client.build_request("PATCH", "/echo/a", idempotent=True).idempotent
