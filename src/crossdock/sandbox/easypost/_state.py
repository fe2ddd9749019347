"""The simulated EasyPost account: trackers, their scripted scans, and a virtual clock."""

from __future__ import annotations

import base64
import copy
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from crossdock.sandbox.easypost._plans import (
    DEFAULT_WEIGHTS,
    Scan,
    choose_outcome,
    family,
    guess_carrier,
    is_test_code,
    script,
)

DEFAULT_EPOCH = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

_CITIES: tuple[dict[str, str], ...] = (
    {"city": "LOUISVILLE", "state": "KY", "country": "US", "zip": "40209"},
    {"city": "MEMPHIS", "state": "TN", "country": "US", "zip": "38118"},
    {"city": "INDIANAPOLIS", "state": "IN", "country": "US", "zip": "46241"},
    {"city": "HODGKINS", "state": "IL", "country": "US", "zip": "60525"},
    {"city": "ONTARIO", "state": "CA", "country": "US", "zip": "91761"},
    {"city": "SECAUCUS", "state": "NJ", "country": "US", "zip": "07094"},
    {"city": "SAN JOSÉ", "state": "CA", "country": "US", "zip": "95131"},
    {"city": "DALLAS", "state": "TX", "country": "US", "zip": "75261"},
)
_SERVICES = {"ups": "Ground", "fedex": "FEDEX_GROUND", "other": "GroundAdvantage"}
_SIGNERS = ("J. SMITH", "M. NÚÑEZ", "FRONT DOOR", "K. O'BRIEN")


def iso(moment: datetime) -> str:
    """EasyPost's timestamp form: UTC, seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ids:
    """EasyPost-shaped ids (``trk_`` + 32 hex), repeatable under a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"easypost-ids:{seed}")

    def make(self, prefix: str) -> str:
        """A fresh id with ``prefix`` (``trk``, ``evt``...)."""
        return f"{prefix}_{uuid.UUID(int=self._rng.getrandbits(128)).hex}"


@dataclass
class TrackerRecord:
    """One tracker and what is still to happen to it.

    Attributes:
        data: The Tracker as served (tracking details included).
        plan: The scripted scans, oldest first.
        applied: How many scans of `plan` have happened.
        created: The virtual time the tracker was created.
        route: The locations of the route (origin, hub, destination).
    """

    data: dict[str, Any]
    plan: list[Scan]
    applied: int
    created: datetime
    route: dict[str, dict[str, str]]
    due: list[datetime] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Scans still to happen."""
        return len(self.plan) - self.applied


@dataclass(frozen=True)
class Change:
    """One change to a tracker: the scan applied, the status before it and the tracker after it.

    Attributes:
        tracker_id: The tracker's id.
        previous_status: Its status before the scan.
        scan: The scan applied.
        snapshot: The Tracker as it was right after this scan (its Event carries this).
    """

    tracker_id: str
    previous_status: str
    scan: Scan
    snapshot: dict[str, Any]


class TrackerBook:
    """The account's trackers, deduplicated per tracking code and carrier.

    Args:
        data: The scenario's data (``api_keys``, ``trackers``, ``outcomes``, ``epoch``...).
        seed: The seed of ids, routes and outcomes.
    """

    def __init__(self, data: Mapping[str, Any], seed: int) -> None:
        self.seed = seed
        self.ids = Ids(seed)
        epoch = data.get("epoch")
        self.now = datetime.fromisoformat(epoch) if isinstance(epoch, str) else DEFAULT_EPOCH
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)
        self.weights: dict[str, int] = {**DEFAULT_WEIGHTS, **data.get("outcomes", {})}
        self.public_base = str(data.get("public_url_base", "https://track.easypost.com"))
        self.user_id = str(data.get("user_id", "user_060ab38db3c04ffaa60f262e5781a9be"))
        self.forced: dict[tuple[str, str], str] = {}
        self.trackers: dict[str, TrackerRecord] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        for spec in data.get("trackers", []):
            record, _ = self.create(
                str(spec["tracking_code"]),
                spec.get("carrier"),
                mode="test",
                outcome=spec.get("outcome"),
            )
            for _ in range(int(spec.get("advanced", 0))):
                self.step(record)

    # -- queries ---------------------------------------------------------------------------

    def find(self, code: str, carrier: str) -> TrackerRecord | None:
        """The tracker of ``code`` at ``carrier``, if any."""
        tracker_id = self._by_key.get((carrier.lower(), code))
        return self.trackers.get(tracker_id) if tracker_id else None

    def by_code(self, code: str) -> list[TrackerRecord]:
        """Every tracker of a tracking code (carriers recycle codes)."""
        return [r for r in self.trackers.values() if r.data["tracking_code"] == code]

    def newest_first(self) -> list[TrackerRecord]:
        """Every tracker, the newest first (as the list endpoint pages them)."""
        return list(reversed(self.trackers.values()))

    # -- changes ---------------------------------------------------------------------------

    def create(
        self, code: str, carrier: str | None, *, mode: str, outcome: str | None = None
    ) -> tuple[TrackerRecord, bool]:
        """Find or create the tracker of ``code`` at ``carrier`` (guessed when None).

        Returns:
            The tracker, and whether it was created by this call.
        """
        carrier = carrier or guess_carrier(code)
        existing = self.find(code, carrier)
        if existing is not None:
            return existing, False
        chosen = outcome or self.forced.get((carrier.lower(), code))
        chosen = chosen or choose_outcome(self.seed, carrier, code, self.weights)
        rng = random.Random(f"easypost-route:{self.seed}:{carrier.lower()}:{code}")
        origin, hub, destination = rng.sample(_CITIES, 3)
        tracker_id = self.ids.make("trk")
        record = TrackerRecord(
            data=self._blank(tracker_id, code, carrier, mode, origin, destination, rng),
            plan=script(carrier, code, chosen),
            applied=0,
            created=self.now,
            route={"origin": origin, "hub": hub, "destination": destination},
        )
        at = self.now
        for scan in record.plan:
            at += timedelta(hours=scan.after_h)
            record.due.append(at)
        record.data["fees"][0]["amount"] = "0.00000" if is_test_code(code) else "0.02000"
        self.trackers[tracker_id] = record
        self._by_key[(carrier.lower(), code)] = tracker_id
        if record.plan:
            self.step(record)
        return record, True

    def step(self, record: TrackerRecord) -> Change | None:
        """Apply the next scan of ``record`` (None when its script is done)."""
        if record.remaining <= 0:
            return None
        scan, at = record.plan[record.applied], record.due[record.applied]
        record.applied += 1
        data = record.data
        previous = str(data["status"])
        location = record.route[scan.place]
        data["tracking_details"].append(
            {
                "object": "TrackingDetail",
                "message": scan.message,
                "description": "",
                "status": scan.status,
                "status_detail": scan.status_detail,
                "datetime": iso(at),
                "source": data["carrier"],
                "carrier_code": scan.carrier_code,
                "tracking_location": {"object": "TrackingLocation", **location},
            }
        )
        data["status"], data["status_detail"] = scan.status, scan.status_detail
        data["updated_at"] = iso(max(at, self.now))
        if scan.status == "delivered":
            data["signed_by"] = _SIGNERS[len(record.plan) % len(_SIGNERS)]
        if record.remaining == 0:
            data["finalized"] = True
        return Change(data["id"], previous, scan, copy.deepcopy(data))

    def advance_clock(self, seconds: float) -> list[Change]:
        """Move the virtual clock on; every scan now due happens, oldest first."""
        self.now += timedelta(seconds=seconds)
        due: list[tuple[datetime, int, TrackerRecord]] = []
        for order, record in enumerate(self.trackers.values()):
            for at in record.due[record.applied :]:
                if at <= self.now:
                    due.append((at, order, record))
        changes = []
        for _, _, record in sorted(due, key=lambda item: (item[0], item[1])):
            change = self.step(record)
            if change is not None:
                changes.append(change)
        return changes

    def force(self, code: str, carrier: str | None, outcome: str) -> None:
        """Fix the outcome of a tracker not created yet (validated against the scripts)."""
        carrier = carrier or guess_carrier(code)
        script(carrier, code, outcome)
        self.forced[(carrier.lower(), code)] = outcome

    # -- shape -----------------------------------------------------------------------------

    def _blank(
        self,
        tracker_id: str,
        code: str,
        carrier: str,
        mode: str,
        origin: dict[str, str],
        destination: dict[str, str],
        rng: random.Random,
    ) -> dict[str, Any]:
        kind = family(carrier)
        estimate = self.now + timedelta(days=rng.randint(3, 5), hours=12)
        public = base64.b64encode(f"v1:{tracker_id}".encode()).decode().rstrip("=")
        return {
            "id": tracker_id,
            "object": "Tracker",
            "mode": mode,
            "tracking_code": code,
            "status": "unknown",
            "status_detail": "unknown",
            "created_at": iso(self.now),
            "updated_at": iso(self.now),
            "signed_by": None,
            "weight": round(rng.uniform(4, 160), 1),
            "est_delivery_date": iso(estimate),
            "shipment_id": None,
            "carrier": carrier,
            "tracking_details": [],
            "fees": [
                {
                    "object": "Fee",
                    "type": "TrackerFee",
                    "amount": "0.00000",
                    "charged": False,
                    "refunded": False,
                }
            ],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": _SERVICES[kind],
                "container_type": None,
                "est_delivery_date_local": estimate.date().isoformat(),
                "est_delivery_time_local": None,
                "origin_location": _place(origin),
                "origin_tracking_location": {"object": "TrackingLocation", **origin},
                "destination_location": _place(destination),
                "destination_tracking_location": {"object": "TrackingLocation", **destination},
                "guaranteed_delivery_date": None,
                "alternate_identifier": None,
                "initial_delivery_attempt": None,
            },
            "finalized": False,
            "is_return": False,
            "public_url": f"{self.public_base}/{public}",
        }


def _place(location: Mapping[str, str]) -> str:
    return f"{location['city']} {location['state']} {location['zip']}, {location['country']}"
