"""The EasyPost simulator: trackers over HTTP Basic, a virtual clock, signed tracker Events."""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import json
import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from crossdock.sandbox.easypost._plans import OUTCOMES
from crossdock.sandbox.easypost._state import Change, Ids, TrackerBook, iso
from crossdock.sandbox.kit import (
    HexHmacSha256Signer,
    RetrySchedule,
    Scenario,
    Simulator,
    SimulatorHTTPError,
    WebhookSender,
    dumps,
    json_response,
)

TOPICS = ("tracker.created", "tracker.updated")
DEFAULT_DATA: dict[str, Any] = {
    "api_keys": {
        "test": "EZTK0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
        "production": "EZAK0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
    },
    "webhook_secret": "sandbox-webhook-secret",
    "webhooks": {"retries": 6, "total_s": 3600, "time_scale": 1.0},
    "trackers": [],
}


def default_scenario() -> Scenario:
    """The default account: a test and a production key, a webhook secret, no trackers."""
    return Scenario(seed=1, data=copy.deepcopy(DEFAULT_DATA), name="easypost-default")


def error_body(code: str, message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    """EasyPost's error shape: ``{"error": {"code", "message", "errors"}}``."""
    return {"error": {"code": code, "message": message, "errors": errors or []}}


_STATUS_ERRORS = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("APIKEY.REQUIRED", "No API key found. Please provide your API key."),
    402: ("PAYMENT.REQUIRED", "Insufficient funds."),
    403: ("FORBIDDEN", "You do not have access to this resource."),
    404: ("NOT_FOUND", "The requested resource could not be found."),
    422: ("PARAMETER.INVALID", "The request could not be processed."),
    429: ("RATE_LIMITED", "You have exceeded the rate limit."),
    500: ("INTERNAL_SERVER_ERROR", "We're sorry, something went wrong."),
    502: ("BAD_GATEWAY", "Bad gateway."),
    503: ("SERVICE.UNAVAILABLE", "The service is temporarily unavailable."),
    504: ("GATEWAY_TIMEOUT", "Gateway timeout."),
}


class EasyPostSimulator(Simulator):
    """An EasyPost account with the tracker API and tracker webhooks.

    Args:
        scenario: The account (default: `default_scenario`); ``data`` may hold ``api_keys``
            (``test``/``production``), ``webhook_secret``, ``webhooks``
            (``retries``, ``total_s``, ``time_scale``), ``outcomes`` (weights), ``epoch`` and
            ``trackers`` to seed (``tracking_code``, ``carrier``, ``outcome``, ``advanced``).
        seed: Overrides the scenario's seed.
        webhook_time_scale: Squeezes the retry schedule (e.g. 0.001 in tests).
        clock_scale: When set, the virtual clock also runs by itself: every API call first
            moves it on by the real seconds elapsed times this factor (86400 makes a real
            second a day), sending the Events of what became due. Timing-dependent; the admin
            ``advance`` endpoint is the deterministic way.
    """

    system = "easypost"

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        seed: int | None = None,
        webhook_time_scale: float | None = None,
        clock_scale: float | None = None,
    ) -> None:
        self._time_scale = webhook_time_scale
        if clock_scale is not None and clock_scale <= 0:
            raise ValueError("clock_scale must be positive")
        self._clock_scale = clock_scale
        self._ticked = time.monotonic()
        super().__init__(scenario, seed=seed)

    # -- kit override points ---------------------------------------------------------------

    def default_scenario(self) -> Scenario:
        """The default account."""
        return default_scenario()

    def seed_state(self, scenario: Scenario) -> None:
        """Trackers, ids and the virtual clock start afresh from the scenario."""
        self.book = TrackerBook(scenario.data, self.seed)
        self.delivery_ids = Ids(self.seed + 1)
        self._ticked = time.monotonic()

    def _data(self, name: str) -> Any:
        return self.scenario.data.get(name, DEFAULT_DATA[name])

    @property
    def api_keys(self) -> dict[str, str]:
        """The active keys by mode (``test``, ``production``)."""
        return dict(self._data("api_keys"))

    @property
    def webhook_secret(self) -> str:
        """The webhook secret (the HMAC key, NFKD-normalised when signing)."""
        return str(self._data("webhook_secret"))

    def make_webhook_sender(self) -> WebhookSender:
        """``X-Hmac-Signature: hmac-sha256-hex=…``; retries spaced exponentially."""
        settings = {**DEFAULT_DATA["webhooks"], **self.scenario.data.get("webhooks", {})}
        scale = self._time_scale
        if scale is None:
            scale = float(settings["time_scale"])
        return WebhookSender(
            HexHmacSha256Signer(self.webhook_secret),
            RetrySchedule.exponential(
                int(settings["retries"]), float(settings["total_s"]), time_scale=scale
            ),
            headers=lambda _: {"User-Agent": "EasyPost WebHook Agent 1.0"},
            seed=self.seed,
            timeout_s=10.0,
            connect_timeout_s=2.0,
            id_factory=self._event_ids,
        )

    def _event_ids(self) -> str:
        # The sender's delivery ids; kept apart from the book's so trackers and Events get the
        # same ids under a seed whether or not anyone is subscribed.
        return self.delivery_ids.make("whd")

    async def guard(self, request: Request) -> None:
        """Auth (no rate limit is simulated), then the running clock if one is set."""
        await super().guard(request)
        self.tick()

    def tick(self) -> list[Change]:
        """Move the running clock on (see ``clock_scale``) and send what became due."""
        if self._clock_scale is None:
            return []
        now = time.monotonic()
        elapsed, self._ticked = now - self._ticked, now
        changes = self.book.advance_clock(elapsed * self._clock_scale)
        for change in changes:
            self.after_change(change)
        return changes

    async def authenticate(self, request: Request) -> None:
        """HTTP Basic with the API key as user and an empty password."""
        request.state.mode = self.mode_of(request.headers.get("authorization", ""))

    def mode_of(self, authorization: str) -> str:
        """The key's mode, or raise EasyPost's 401."""
        scheme, _, value = authorization.partition(" ")
        user = ""
        if scheme.lower() == "basic":
            try:
                user = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = ""
        if not user:
            raise SimulatorHTTPError(
                json_response(error_body(*_STATUS_ERRORS[401]), 401, {"WWW-Authenticate": "Basic"})
            )
        found = None
        for mode, key in self.api_keys.items():
            if hmac.compare_digest(user.encode(), key.encode()):
                found = mode
        if found is None:
            message = (
                "This api key is no longer active. Please use a different api key or "
                "reactivate this key."
            )
            raise SimulatorHTTPError(json_response(error_body("APIKEY.INACTIVE", message), 401))
        return found

    def error_response(self, status: int) -> Response:
        """EasyPost's error body for an injected or routed status."""
        code, message = _STATUS_ERRORS.get(status, ("INTERNAL_SERVER_ERROR", "Error"))
        return json_response(error_body(code, message), status)

    def credentials(self) -> dict[str, Any]:
        """API keys, webhook secret and the API base."""
        keys = self.api_keys
        return {
            "api_key": keys.get("test", ""),
            "production_api_key": keys.get("production", ""),
            "webhook_secret": self.webhook_secret,
            "api_url": "{base_url}/v2",
            "webhook_topics": list(TOPICS),
        }

    def register_routes(self, app: FastAPI) -> None:
        """``/v2/trackers`` (create, list) and ``/v2/trackers/{id}``."""
        guard = [Depends(self.guard)]
        app.add_api_route("/v2/trackers", self._create, methods=["POST"], dependencies=guard)
        app.add_api_route("/v2/trackers", self._list, methods=["GET"], dependencies=guard)
        app.add_api_route(
            "/v2/trackers/{tracker_id}", self._retrieve, methods=["GET"], dependencies=guard
        )

    def register_admin_routes(self, router: APIRouter) -> None:
        """Progression and inspection helpers under ``/_sandbox/easypost``."""
        router.add_api_route("/easypost/advance", self._admin_advance, methods=["POST"])
        router.add_api_route("/easypost/outcomes", self._admin_force, methods=["POST"])
        router.add_api_route("/easypost/clock", self._admin_clock, methods=["GET"])
        router.add_api_route(
            "/easypost/trackers/{tracking_code}", self._admin_tracker, methods=["GET"]
        )

    # -- business endpoints ----------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        spec = _tracker_spec(await request.body())
        code, carrier = spec["tracking_code"], spec.get("carrier")
        self.effects.attempt("tracker", code)
        record, created = self.book.create(code, carrier, mode=request.state.mode)
        if created:
            self.effects.created("tracker", code, state=record.data["status"])
            self.emit("tracker.created", record.data, previous_status=None)
            return json_response(record.data, 201)
        self.effects.absorbed("tracker", code)
        return json_response(record.data, 200)

    async def _retrieve(self, tracker_id: str) -> Response:
        record = self.book.trackers.get(tracker_id)
        if record is None:
            raise SimulatorHTTPError(self.error_response(404))
        return json_response(record.data)

    async def _list(self, request: Request) -> Response:
        query = request.query_params
        try:
            size = max(1, min(100, int(query.get("page_size", "20"))))
        except ValueError:
            raise SimulatorHTTPError(
                json_response(error_body("PARAMETER.INVALID", "page_size must be a number"), 422)
            ) from None
        records = self.book.newest_first()
        if "tracking_code" in query:
            records = [r for r in records if r.data["tracking_code"] == query["tracking_code"]]
        if "carrier" in query:
            records = [r for r in records if r.data["carrier"].lower() == query["carrier"].lower()]
        before = query.get("before_id")
        if before:
            ids = [r.data["id"] for r in records]
            records = records[ids.index(before) + 1 :] if before in ids else []
        page = records[:size]
        return json_response(
            {"trackers": [r.data for r in page], "has_more": len(records) > len(page)}
        )

    # -- admin -----------------------------------------------------------------------------

    async def _admin_advance(self, request: Request) -> Response:
        body = _json_object(await request.body() or b"{}")
        if "seconds" in body or "hours" in body:
            seconds = float(body.get("seconds", 0)) + 3600 * float(body.get("hours", 0))
            if seconds < 0:
                return json_response({"error": "the clock only moves forward"}, 400)
            changes = self.book.advance_clock(seconds)
        else:
            changes = self._advance_steps(body)
        for change in changes:
            self.after_change(change)
        return json_response(
            {
                "now": iso(self.book.now),
                "changes": [
                    {
                        "tracker_id": c.tracker_id,
                        "tracking_code": self.book.trackers[c.tracker_id].data["tracking_code"],
                        "previous_status": c.previous_status,
                        "status": c.scan.status,
                        "status_detail": c.scan.status_detail,
                        "carrier_code": c.scan.carrier_code,
                    }
                    for c in changes
                ],
            }
        )

    def _advance_steps(self, body: dict[str, Any]) -> list[Change]:
        steps = int(body.get("steps", 1))
        records = list(self.book.trackers.values())
        if "tracker_id" in body:
            records = [r for r in records if r.data["id"] == body["tracker_id"]]
        if "tracking_code" in body:
            records = [r for r in records if r.data["tracking_code"] == body["tracking_code"]]
        changes: list[Change] = []
        for record in records:
            for _ in range(steps):
                change = self.book.step(record)
                if change is not None:
                    changes.append(change)
        return changes

    async def _admin_force(self, request: Request) -> Response:
        body = _json_object(await request.body())
        outcome, code = body.get("outcome"), body.get("tracking_code")
        if outcome not in OUTCOMES or not isinstance(code, str) or not code:
            known = ", ".join(OUTCOMES)
            return json_response({"error": f"give tracking_code and outcome ({known})"}, 400)
        self.book.force(code, body.get("carrier"), str(outcome))
        return json_response({"tracking_code": code, "outcome": outcome}, 201)

    async def _admin_clock(self) -> Response:
        return json_response({"now": iso(self.book.now)})

    async def _admin_tracker(self, tracking_code: str) -> Response:
        records = self.book.by_code(tracking_code)
        if not records:
            return json_response({"error": f"no tracker for {tracking_code!r}"}, 404)
        effects = self.effects.report("tracker", tracking_code).get("tracker", {})
        return json_response(
            {
                "trackers": [
                    {"tracker": r.data, "applied": r.applied, "remaining": r.remaining}
                    for r in records
                ],
                "effects": effects.get(tracking_code),
            }
        )

    # -- webhooks --------------------------------------------------------------------------

    def after_change(self, change: Change) -> None:
        """Record the tracker's new state and send ``tracker.updated``."""
        tracker = change.snapshot
        self.effects.state("tracker", tracker["tracking_code"], tracker["status"])
        self.emit("tracker.updated", change.snapshot, previous_status=change.previous_status)

    def event(
        self, description: str, tracker: dict[str, Any], previous_status: str | None
    ) -> dict[str, Any]:
        """The Event EasyPost posts for a tracker change."""
        now = str(tracker["updated_at"])  # virtual time: the same Events under the same seed
        addresses = [s.address for s in self.webhooks.subscriptions] if self.webhooks else []
        previous = {"status": previous_status} if previous_status is not None else {}
        return {
            "object": "Event",
            "id": self.book.ids.make("evt"),
            "mode": tracker["mode"],
            "description": description,
            "previous_attributes": previous,
            "result": copy.deepcopy(tracker),
            "status": "pending",
            "pending_urls": addresses,
            "completed_urls": [],
            "user_id": self.book.user_id,
            "created_at": now,
            "updated_at": now,
        }

    def emit(self, description: str, tracker: dict[str, Any], previous_status: str | None) -> None:
        """Post the Event for ``tracker`` (serialised once: the signature covers those bytes)."""
        if self.webhooks is None:
            return
        event = self.event(description, tracker, previous_status)
        self.webhooks.emit(description, dumps(event), event_id=event["id"])


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise SimulatorHTTPError(
            json_response(error_body("BAD_REQUEST", "The body must be a JSON object."), 400)
        )
    return body


def _tracker_spec(raw: bytes) -> dict[str, Any]:
    body = _json_object(raw)
    spec = body.get("tracker")
    code = spec.get("tracking_code") if isinstance(spec, dict) else None
    if not isinstance(code, str) or not code.strip():
        raise SimulatorHTTPError(
            json_response(
                error_body(
                    "PARAMETER.REQUIRED",
                    "Missing required parameter.",
                    [{"field": "tracker.tracking_code", "message": "cannot be blank"}],
                ),
                422,
            )
        )
    carrier = spec.get("carrier") if isinstance(spec, dict) else None
    if carrier is not None and (not isinstance(carrier, str) or not carrier.strip()):
        carrier = None
    return {"tracking_code": code.strip(), "carrier": carrier.strip() if carrier else None}
