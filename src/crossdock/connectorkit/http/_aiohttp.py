"""The production transport: aiohttp with a pooled connector (one per process and destination)."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp
from yarl import URL

from crossdock.connectorkit.http._errors import AmbiguousRequestError, RequestNotSentError
from crossdock.connectorkit.http._models import HttpRequest, HttpResponse


class AiohttpTransport:
    """A `Transport` on one `aiohttp.ClientSession` with a keep-alive connection pool.

    Args:
        pool_size: Most connections open at once (all hosts).
        pool_size_per_host: Most connections to one host (0 = no per-host cap).
        connect_timeout: Most seconds to obtain a connection; never more than the call's timeout.
        ssl_context: TLS settings (for example a context trusting the sandbox CA); None for
            the system defaults.
    """

    def __init__(
        self,
        *,
        pool_size: int = 100,
        pool_size_per_host: int = 0,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")
        self._pool_size = pool_size
        self._pool_size_per_host = pool_size_per_host
        self._connect_timeout = connect_timeout
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._pool_size, limit_per_host=self._pool_size_per_host, ssl=self._ssl
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=True, trust_env=False
        )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send `request` on a pooled connection; see `Transport.send`."""
        session = self._session or self._open()
        timeout = aiohttp.ClientTimeout(
            total=request.timeout, connect=min(self._connect_timeout, request.timeout)
        )
        method, url = request.method, request.url
        try:
            async with session.request(
                method,
                URL(url, encoded=True),
                headers=request.headers,
                data=request.content,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return HttpResponse(response.status, response.headers, body, url)
        except aiohttp.ConnectionTimeoutError as exc:
            raise RequestNotSentError(f"connect timed out: {exc}", method=method, url=url) from exc
        except aiohttp.ClientConnectorError as exc:
            raise RequestNotSentError(f"cannot connect: {exc}", method=method, url=url) from exc
        except TimeoutError as exc:  # aiohttp's ServerTimeoutError is a TimeoutError too
            message = f"no complete response within {request.timeout:g} s"
            raise AmbiguousRequestError(message, method=method, url=url, timed_out=True) from exc
        except aiohttp.ClientError as exc:
            message = f"connection broke after sending: {exc!r}"
            raise AmbiguousRequestError(message, method=method, url=url, timed_out=False) from exc

    async def aclose(self) -> None:
        """Close the session and its pooled connections."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
            # Let the connector's transports finish closing before the loop goes away.
            await asyncio.sleep(0)
