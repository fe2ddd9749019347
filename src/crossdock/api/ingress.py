"""``POST /hooks/{system}``: verify, store durably, then acknowledge.

The order of one delivery's checks (ARCHITECTURE.md, "One event's life", step 1):

1. the system must be configured with an inbound side, else 404;
2. the body is read with a size limit enforced while streaming (a declared Content-Length above
   it is refused before reading), else 413;
3. the system verifies the signature on the raw bytes (or the secret token in the URL), else
   401 and nothing is stored;
4. the delivery (source, dedupe key, kept headers, raw bytes, correlation id) is recorded in the
   inbox, durable (group commit) before the answer: 200 for a new delivery and for a duplicate
   (which changes nothing); when the store cannot take it, 503 with ``Retry-After`` and no
   acknowledgment, so that the sender delivers again later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from structlog.typing import FilteringBoundLogger

from crossdock.api._metrics import refused_counter
from crossdock.api.correlation import correlation_id_of
from crossdock.api.ports import InboundSystem
from crossdock.backbone.store import Delivery, Store, StoreError, StoreUnavailable
from crossdock.observability.logging import get_logger
from crossdock.observability.metrics import HubMetrics

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "BodyTooLarge",
    "IngressSettings",
    "ingress_router",
    "read_limited",
]


def _log() -> FilteringBoundLogger:
    # Looked up at each use: a logger bound at import would miss configure_logging().
    return get_logger("crossdock.api.ingress")


DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
"""The default body limit of a delivery: 2 MiB."""


@dataclass(frozen=True, slots=True)
class IngressSettings:
    """Limits of the ingress.

    Attributes:
        max_body_bytes: The largest body accepted (413 beyond it); 2 MiB by default.
        retry_after_seconds: The ``Retry-After`` of a 503 when the store cannot take a delivery.
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    retry_after_seconds: int = 5

    def __post_init__(self) -> None:
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.retry_after_seconds < 0:
            raise ValueError("retry_after_seconds must not be negative")


class BodyTooLarge(Exception):  # noqa: N818 - names the outcome
    """The request body exceeds the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body exceeds the limit of {limit} bytes")
        self.limit = limit


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the whole body, refusing it as soon as it exceeds `limit` bytes.

    A declared ``Content-Length`` above the limit is refused before reading; a body that
    declares less (or nothing, chunked) is still counted while it streams in.

    Raises:
        BodyTooLarge: The body is, or says it is, larger than `limit`.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(
    status: int, error: str, detail: str, correlation_id: str, **extra: object
) -> JSONResponse:
    body = {"error": error, "detail": detail, "correlation_id": correlation_id}
    headers = {str(k): str(v) for k, v in extra.items()}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _body_key(body: bytes) -> str:
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def ingress_router(
    store: Store,
    systems: Mapping[str, InboundSystem],
    *,
    metrics: HubMetrics | None = None,
    settings: IngressSettings | None = None,
    on_recorded: Callable[[], None] | None = None,
) -> APIRouter:
    """Build the ingress router.

    Args:
        store: Where deliveries are recorded.
        systems: The configured systems with an inbound side, by name.
        metrics: Counts inbox records (new or duplicate) by source.
        settings: Body limit and ``Retry-After``.
        on_recorded: Called after each new delivery is stored (wakes the decode worker).
    """
    limits = settings or IngressSettings()
    router = APIRouter(tags=["ingress"])
    refused = refused_counter(metrics.registry) if metrics is not None else None

    def refuse(
        status: int, system: str, error: str, detail: str, correlation_id: str, **extra: object
    ) -> JSONResponse:
        # An unknown system is counted under one label, so that scanners cannot grow the series.
        if refused is not None:
            refused.labels(system=system if system in systems else "?", reason=error).inc()
        return _problem(status, error, detail, correlation_id, **extra)

    async def receive(system: str, request: Request, token: str | None = None) -> JSONResponse:
        correlation_id = correlation_id_of(request)
        inbound = systems.get(system)
        if inbound is None:
            known = ", ".join(sorted(systems)) or "none"
            return refuse(
                404,
                system,
                "unknown_system",
                f"no configured system {system!r} receives deliveries (configured: {known})",
                correlation_id,
            )
        try:
            body = await read_limited(request, limits.max_body_bytes)
        except BodyTooLarge as exc:
            _log().warning("delivery refused", system=system, reason="too_large", limit=exc.limit)
            return refuse(413, system, "body_too_large", str(exc), correlation_id)
        headers = dict(request.headers)
        if not await inbound.verify(headers, body, token):
            _log().warning("delivery refused", system=system, reason="signature")
            detail = f"the {system} delivery is not authentic"
            return refuse(401, system, "invalid_signature", detail, correlation_id)
        delivery = Delivery(
            source=inbound.name,
            dedupe_key=inbound.dedupe_key(headers, body) or _body_key(body),
            body=body,
            headers=inbound.kept_headers(headers),
            correlation_id=correlation_id,
        )
        try:
            record = await store.record_delivery(delivery)
        except StoreError as exc:
            # StoreUnavailable is the expected case (locked, full, unreachable); any other store
            # error is no better: nothing was acknowledged, so the sender must deliver again.
            reason = "unavailable" if isinstance(exc, StoreUnavailable) else "store_error"
            _log().warning("delivery not stored", system=system, reason=reason, error=str(exc))
            return refuse(
                503,
                system,
                "store_unavailable",
                "the delivery could not be stored; it was not acknowledged, deliver it again",
                correlation_id,
                **{"Retry-After": limits.retry_after_seconds},
            )
        if metrics is not None:
            metrics.record_inbox(inbound.name, new=record.new)
        if record.new and on_recorded is not None:
            on_recorded()
        _log().info(
            "delivery recorded",
            system=system,
            inbox_id=record.inbox_id,
            duplicate=not record.new,
            dedupe_key=delivery.dedupe_key,
        )
        return JSONResponse(
            {
                "status": "accepted" if record.new else "duplicate",
                "inbox_id": record.inbox_id,
                "duplicate": not record.new,
                "correlation_id": correlation_id,
            },
            status_code=200,
        )

    router.add_api_route("/hooks/{system}", receive, methods=["POST"])
    router.add_api_route("/hooks/{system}/{token}", receive, methods=["POST"])
    return router
