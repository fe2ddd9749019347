"""The aiohttp transport over HTTPS with a local certificate authority, as vendor APIs insist."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from crossdock.connectorkit.http import AiohttpTransport, HttpClient, RequestNotSentError


async def hello(request: Request) -> Response:
    return JSONResponse({"scheme": request.url.scheme})


APP = Starlette(routes=[Route("/hello", hello)])


async def test_https_with_a_trusted_local_ca(serve: Callable[..., Any], tmp_path: Path) -> None:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    server_cert.cert_chain_pems[0].write_to_path(str(cert))
    server_cert.private_key_pem.write_to_path(str(key))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with serve(APP, certfile=str(cert), keyfile=str(key)) as base_url:
        trusted = HttpClient(
            AiohttpTransport(ssl_context=context), base_url=base_url, default_timeout=5
        )
        untrusted = HttpClient(AiohttpTransport(), base_url=base_url, default_timeout=5)
        try:
            assert base_url.startswith("https://")
            response = await trusted.request("GET", "/hello")
            assert response.json() == {"scheme": "https"}
            with pytest.raises(RequestNotSentError, match="cannot connect"):
                await untrusted.request("POST", "/hello", json={})
        finally:
            await trusted.aclose()
            await untrusted.aclose()
