"""The EasyPost connector: tracker webhooks in, tracker creation out.

Inbound: `verify` checks ``X-Hmac-Signature`` (NFKD secret, constant time, rotation);
`dedupe_key` is the Event id the inbox deduplicates on; `decode` turns ``tracker.created`` and
``tracker.updated`` into canonical ``shipment.updated`` events. Outbound: the
``shipment.track`` command creates a tracker, idempotent because EasyPost returns the same
tracker for the same tracking code and carrier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from crossdock.backbone.store import Command, Delivery, JSONObject
from crossdock.canonical.envelope import Event
from crossdock.canonical.events import EventType, dataschema_for
from crossdock.canonical.ids import new_id
from crossdock.connectorkit import (
    DEFAULT_ERROR_TABLE,
    Connector,
    ErrorTable,
    Outcome,
    PermanentFailureError,
    Rule,
    Secret,
    handles,
)
from crossdock.connectorkit.http import HttpClient
from crossdock.connectors.easypost import signature
from crossdock.connectors.easypost.auth import ApiKeyAuth
from crossdock.connectors.easypost.decode import (
    DecodeError,
    event_id,
    parse_event,
    shipment_from_tracker,
)
from crossdock.connectors.easypost.directory import ShipmentDirectory
from crossdock.runtime.clock import Clock
from crossdock.runtime.resilience import CircuitBreaker, RateBudget

__all__ = ["EASYPOST_ERROR_TABLE", "TRACK_COMMAND", "EasyPostConnector"]

TRACK_COMMAND: Final = "shipment.track"
"""The command kind that creates (or finds) the tracker of a shipment's tracking code."""

EASYPOST_ERROR_TABLE: Final[ErrorTable] = DEFAULT_ERROR_TABLE.extend(
    Rule(Outcome.AUTH, status=401, codes={"APIKEY.*"}, reason="API key refused"),
    Rule(Outcome.RATE_LIMITED, status=429, codes={"RATE_LIMITED"}, reason="rate limited"),
    Rule(Outcome.PERMANENT, status=404, codes={"NOT_FOUND"}, reason="not found"),
    Rule(Outcome.PERMANENT, status=422, reason="tracker refused (unprocessable)"),
    Rule(Outcome.PERMANENT, status=400, reason="bad request"),
    Rule(Outcome.RETRY, status={500, 502, 503}, reason="EasyPost unavailable"),
)
"""EasyPost's errors: ``{"error": {"code", "message", "errors"}}``; codes such as
``APIKEY.INACTIVE`` (401) and ``RATE_LIMITED`` (429); 5xx retried."""


class EasyPostConnector(Connector):
    """Speaks EasyPost's tracker API and webhooks.

    Args:
        http: The shared HTTP seam.
        api_key: The EasyPost API key (HTTP Basic user, empty password).
        webhook_secrets: Every webhook secret currently valid (rotation: old and new).
        directory: Finds the hub shipment of a tracker (needed by `decode`).
        destination: This instance's name (default ``easypost``).
        base_url: The API root (default ``https://api.easypost.com``; a simulator's URL in tests).
        rate_budget: The destination's budget.
        breaker: The destination's breaker.
        clock: The clock.
    """

    system = "easypost"
    base_url = "https://api.easypost.com"
    error_table = EASYPOST_ERROR_TABLE

    def __init__(
        self,
        *,
        http: HttpClient,
        api_key: str | Secret,
        webhook_secrets: Iterable[str | Secret] = (),
        directory: ShipmentDirectory | None = None,
        destination: str | None = None,
        base_url: str | None = None,
        rate_budget: RateBudget | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(
            http=http,
            destination=destination,
            base_url=base_url,
            auth=ApiKeyAuth(api_key),
            rate_budget=rate_budget,
            breaker=breaker,
            clock=clock,
        )
        self.webhook_secrets = tuple(Secret.of(s) for s in webhook_secrets)
        self.directory = directory

    # ---- inbound ---------------------------------------------------------------------------

    async def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        """Whether ``X-Hmac-Signature`` matches the raw body under one of the webhook secrets."""
        return signature.verify(headers, raw_body, self.webhook_secrets)

    def dedupe_key(self, raw_body: bytes) -> str:
        """The Event id (``evt_…``): a redelivery carries the same one.

        Raises:
            DecodeError: The body is not an Event with an id.
        """
        return event_id(raw_body)

    def delivery(
        self, headers: Mapping[str, str], raw_body: bytes, *, correlation_id: str = ""
    ) -> Delivery:
        """The inbox `Delivery` of a verified webhook (dedupe key: the Event id).

        Raises:
            DecodeError: The body has no Event id to deduplicate on.
        """
        kept = {
            k: v for k, v in headers.items() if k.lower() in {"x-hmac-signature", "content-type"}
        }
        return Delivery(
            source=self.destination,
            dedupe_key=self.dedupe_key(raw_body),
            body=raw_body,
            headers=kept,
            correlation_id=correlation_id or new_id(),
        )

    async def decode(self, delivery: Delivery) -> list[Event]:
        """One ``shipment.updated`` event per ``tracker.created``/``tracker.updated``.

        Raises:
            DecodeError: Malformed payload, unknown description, unknown status, or a tracker
                whose shipment the directory does not know (replay once it is linked).
        """
        event = parse_event(delivery.body)
        tracker = event.tracker
        carrier, code = tracker.get("carrier"), tracker.get("tracking_code")
        if not isinstance(carrier, str) or not isinstance(code, str) or not carrier or not code:
            raise DecodeError("tracker.carrier and tracker.tracking_code must be non-empty strings")
        if self.directory is None:
            raise DecodeError("no shipment directory is configured to place trackers")
        ref = await self.directory.find(carrier, code)
        if ref is None:
            raise DecodeError(f"no hub shipment is linked to {carrier} tracking code {code!r}")
        shipment = shipment_from_tracker(tracker, ref)
        kind = EventType.SHIPMENT_UPDATED.value
        subject = ref.shipment_id or f"easypost:{tracker.get('id')}"
        extra: dict[str, Any] = {"time": event.updated_at} if event.updated_at else {}
        return [
            Event(
                source=self.destination,
                type=kind,
                subject=subject,
                dataschema=dataschema_for(kind),
                correlationid=delivery.correlation_id or new_id(),
                data=shipment.model_dump(mode="json"),
                **extra,
            )
        ]

    # ---- outbound --------------------------------------------------------------------------

    @handles(TRACK_COMMAND)
    async def create_tracker(self, command: Command) -> JSONObject:
        """Create the tracker of ``payload.tracking_code`` (and ``payload.carrier``, optional).

        EasyPost answers with the existing tracker for a code and carrier it already tracks,
        so a retry after a timeout creates nothing twice.

        Returns:
            ``tracker_id``, ``tracking_code``, ``carrier``, ``status``, ``public_url``.

        Raises:
            PermanentFailureError: No tracking code, or EasyPost refused it.
        """
        code = command.payload.get("tracking_code")
        if not isinstance(code, str) or not code.strip():
            raise PermanentFailureError(f"{TRACK_COMMAND} needs a tracking_code")
        body: dict[str, Any] = {"tracking_code": code.strip()}
        carrier = command.payload.get("carrier")
        if isinstance(carrier, str) and carrier.strip():
            body["carrier"] = carrier.strip()
        response = await self.call("POST", "/v2/trackers", json={"tracker": body}, idempotent=True)
        return _tracker_result(response.json())

    async def get_tracker(self, tracker_id: str) -> JSONObject:
        """Read one tracker (``GET /v2/trackers/{id}``) as EasyPost returns it."""
        response = await self.call("GET", f"/v2/trackers/{tracker_id}")
        found: JSONObject = response.json()
        return found


def _tracker_result(tracker: Any) -> JSONObject:
    if not isinstance(tracker, dict) or not str(tracker.get("id", "")).startswith("trk_"):
        raise PermanentFailureError("EasyPost answered without a tracker")
    return {
        "tracker_id": tracker["id"],
        "tracking_code": tracker.get("tracking_code"),
        "carrier": tracker.get("carrier"),
        "status": tracker.get("status"),
        "public_url": tracker.get("public_url"),
    }
