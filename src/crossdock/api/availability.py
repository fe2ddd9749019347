"""``/v1/availability``: available-to-promise served from the read model's memory.

- ``GET /v1/availability?sku=A&location=L[&channel=web]``: one SKU at one location; 404 with a
  clear body when no source has reported it.
- ``GET /v1/availability?sku=A&sku=B[&location=L]``: the batch form (every known location of
  each SKU when no location is given): ``{"items": [...], "unknown": [...]}``.
- ``POST /v1/availability/batch`` with ``{"items": [{"sku": ..., "location": ...}], "channel":
  ...}``: the same answer for explicit pairs.

Nothing here calls the ERP or the store: when the ERP's breaker is open or the data is older
than the domain's latency target, the answer still comes, with ``stale: true`` and its age.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from crossdock.api.correlation import accepted_correlation_id
from crossdock.availability import DEFAULT_CHANNEL, Availability, AvailabilityReadModel

__all__ = ["MAX_BATCH", "PATH", "AvailabilityFastPath", "answer_get", "availability_router"]

PATH: Final = "/v1/availability"

MAX_BATCH: Final = 1000
_JSON: Final = "application/json"


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _response(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body), status, media_type=_JSON)


def _problem_body(status: int, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "status": status, "detail": detail, **extra}


def _problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    return _response(_problem_body(status, title, detail, **extra), status)


def _batch_body(
    model: AvailabilityReadModel, pairs: list[tuple[str, str | None]], channel: str
) -> dict[str, Any]:
    items: list[dict[str, object]] = []
    unknown: list[dict[str, str | None]] = []
    for sku, location in pairs:
        locations = [location] if location is not None else model.locations(sku)
        found_any = False
        for loc in locations:
            found = model.lookup(sku, loc, channel)
            if found is not None:
                items.append(found.to_json())
                found_any = True
        if not found_any:
            unknown.append({"sku": sku, "location": location})
    return {"items": items, "unknown": unknown}


def answer_get(
    model: AvailabilityReadModel, skus: list[str], location: str | None, channel: str
) -> tuple[int, dict[str, Any]]:
    """Answer a GET of ``/v1/availability`` (status and JSON body), from memory only."""
    skus = [s for s in skus if s]
    if not skus:
        return 422, _problem_body(422, "missing sku", "give at least one sku query parameter")
    if len(skus) > MAX_BATCH:
        return 422, _problem_body(422, "too many skus", f"at most {MAX_BATCH} skus per request")
    if len(skus) == 1 and location is not None:
        found = model.lookup(skus[0], location, channel)
        if found is None:
            return 404, _problem_body(
                404,
                "unknown sku at location",
                f"no source has reported stock of {skus[0]!r} at {location!r}",
                sku=skus[0],
                location=location,
            )
        return 200, found.to_json()
    return 200, _batch_body(model, [(sku, location) for sku in skus], channel)


def _encode_answer(answer: Availability) -> bytes:
    """Return ``_dumps(answer.to_json())``, byte for byte, without the intermediate dicts.

    The hot path's serializer (in about half the time); a test holds it to `to_json`.
    Strings go through the encoder `json.dumps` uses; numbers through ``repr``, as there.
    """
    text = encode_basestring_ascii
    sources = ",".join(
        [
            f'{text(name)}:{{"as_of":{text(fresh.as_of.isoformat())},'
            f'"age_seconds":{round(fresh.age_seconds, 3)!r}}}'
            for name, fresh in answer.sources.items()
        ]
    )
    on_hand = "null" if answer.on_hand is None else repr(answer.on_hand)
    return (
        f'{{"sku":{text(answer.sku)},"location":{text(answer.location)},'
        f'"channel":{text(answer.channel)},'
        f'"available_to_promise":{answer.available_to_promise!r},"on_hand":{on_hand},'
        f'"source_available":{answer.source_available!r},"reserved":{answer.reserved!r},'
        f'"safety_stock":{answer.safety_stock!r},"channel_buffer":{answer.channel_buffer!r},'
        f'"as_of":{text(answer.as_of.isoformat())},'
        f'"age_seconds":{round(answer.age_seconds, 3)!r},'
        f'"stale":{"true" if answer.stale else "false"},"sources":{{{sources}}}}}'
    ).encode()


def _parse_query(raw: bytes) -> tuple[list[str], str | None, str]:
    """Return the skus, location (None: none given) and channel of a query string.

    Read as the router reads it (Starlette's ``QueryParams``: blank values kept, the last
    ``location`` and ``channel`` win); a query without ``%`` or ``+`` needs no unquoting, so
    it is split directly instead of through ``parse_qsl``.
    """
    text = raw.decode("latin-1")
    fields = (
        parse_qsl(text, keep_blank_values=True)
        if "%" in text or "+" in text
        else [(name, value) for name, _, value in (f.partition("=") for f in text.split("&") if f)]
    )
    skus: list[str] = []
    location = channel = ""
    for name, value in fields:
        if name == "sku":
            skus.append(value)
        elif name == "location":
            location = value
        elif name == "channel":
            channel = value
    return skus, location or None, channel or DEFAULT_CHANNEL


_CONTENT_TYPE: Final = (b"content-type", b"application/json")
_CORRELATION: Final = b"x-correlation-id"


class AvailabilityFastPath:
    """Answer ``GET /v1/availability`` before the framework's routing (the hot path).

    A pure ASGI middleware: the lookup costs microseconds, the framework's routing and
    dependency solving ten times more, so the GET form is answered here, with the same body as
    the router's and an ``X-Correlation-Id`` header (the incoming one when well-formed).
    Everything else goes to the wrapped app. Nothing is cached: each answer is read from the
    model, with its age at that moment.

    Args:
        app: The wrapped ASGI app.
        model: The read model to serve.
    """

    def __init__(self, app: ASGIApp, model: AvailabilityReadModel) -> None:
        self.app = app
        self.model = model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        skus, location, channel = _parse_query(scope["query_string"])
        found = None
        if len(skus) == 1 and location is not None and skus[0]:
            found = self.model.lookup(skus[0], location, channel)
        if found is not None:
            status, payload = 200, _encode_answer(found)
        else:
            status, body = answer_get(self.model, skus, location, channel)
            payload = _dumps(body)
        given = None
        for name, value in scope["headers"]:
            if name == _CORRELATION:
                given = value.decode("latin-1").strip()
                break
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    _CONTENT_TYPE,
                    (b"content-length", b"%d" % len(payload)),
                    (_CORRELATION, accepted_correlation_id(given).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def availability_router(model: AvailabilityReadModel) -> APIRouter:
    """Return the router serving `model` (already started and followed by its owner).

    `create_app` also installs `AvailabilityFastPath`, which answers the GET form before
    routing; the router's GET route answers identically when used alone.

    Args:
        model: The availability read model.
    """
    router = APIRouter()

    @router.get("/v1/availability")
    async def get_availability(request: Request) -> Response:
        query = request.query_params
        status, body = answer_get(
            model,
            query.getlist("sku"),
            query.get("location") or None,
            query.get("channel") or DEFAULT_CHANNEL,
        )
        return _response(body, status)

    @router.post("/v1/availability/batch")
    async def post_batch(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return _problem(422, "invalid JSON", "the body must be a JSON object")
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return _problem(422, "invalid batch", 'expected {"items": [{"sku": ..., ...}]}')
        channel = body.get("channel", DEFAULT_CHANNEL)
        if not isinstance(channel, str) or not channel:
            return _problem(422, "invalid channel", "channel must be a non-empty string")
        raw: list[Any] = body["items"]
        if len(raw) > MAX_BATCH:
            return _problem(422, "too many items", f"at most {MAX_BATCH} items per request")
        pairs: list[tuple[str, str | None]] = []
        for index, item in enumerate(raw):
            sku = item.get("sku") if isinstance(item, dict) else None
            location = item.get("location") if isinstance(item, dict) else None
            if (
                not isinstance(sku, str)
                or not sku
                or not (location is None or (isinstance(location, str) and location))
            ):
                return _problem(
                    422,
                    "invalid item",
                    f"items[{index}] needs a non-empty sku and an optional non-empty location",
                )
            pairs.append((sku, location))
        return _response(_batch_body(model, pairs, channel))

    return router
