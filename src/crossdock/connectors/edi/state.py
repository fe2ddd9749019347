"""What the EDI connector must remember: control numbers, processed keys, sent groups.

Each piece has an in-memory implementation and one persisted to a small JSON file (written
atomically); the backbone store can implement the same protocols later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from crossdock.connectors.edi.x12 import InMemoryControlNumbers, SentGroup
from crossdock.connectors.edi.x12.control import MAX_CONTROL


@dataclass(frozen=True)
class SentRecord:
    """One functional group we sent, kept to match 997s and to replay a rejected set.

    Attributes:
        interchange_control: ISA13 of the interchange that carried it.
        group: GS01, GS06 and each set's (ST01, ST02).
        file_name: The outbound file name.
        orders: Each set's (ST02, depositor order number), for the operator.
        document: The whole interchange as written (ASCII X12), for replays.
        status: ``"sent"``, then the 997's verdict (``accepted``, ``rejected``, ...).
        sent_at: When it was handed over (to find 997s that never came).
    """

    interchange_control: int
    group: SentGroup
    file_name: str
    orders: tuple[tuple[str, str], ...]
    document: str
    status: str = "sent"
    sent_at: datetime | None = None

    def order_for(self, set_control: str) -> str:
        """The depositor order number sent in set ``set_control`` ("" if unknown)."""
        return next((o for c, o in self.orders if c == set_control), "")


class EdiLedger(Protocol):
    """Processed inbound keys and sent groups."""

    def is_processed(self, key: str) -> bool:
        """True when the set with this ``<ISA06>:<ISA13>:<GS06>:<ST02>`` key was processed."""
        ...

    def mark_processed(self, keys: Iterable[str], source: str) -> None:
        """Remember that these sets (from file ``source``) were processed."""
        ...

    def record_sent(self, record: SentRecord) -> None:
        """Remember a group we sent."""
        ...

    def sent(self) -> tuple[SentRecord, ...]:
        """Every sent group, oldest first."""
        ...

    def set_status(self, group_control: int, functional_id: str, status: str) -> None:
        """Record the 997 verdict on a sent group."""
        ...


class InMemoryEdiLedger:
    """An `EdiLedger` in memory (tests, one-shot runs)."""

    def __init__(self) -> None:
        self._processed: dict[str, str] = {}
        self._sent: list[SentRecord] = []

    def is_processed(self, key: str) -> bool:
        """See `EdiLedger.is_processed`."""
        return key in self._processed

    def mark_processed(self, keys: Iterable[str], source: str) -> None:
        """See `EdiLedger.mark_processed`."""
        for key in keys:
            self._processed.setdefault(key, source)
        self._changed()

    def record_sent(self, record: SentRecord) -> None:
        """See `EdiLedger.record_sent`."""
        self._sent.append(record)
        self._changed()

    def sent(self) -> tuple[SentRecord, ...]:
        """See `EdiLedger.sent`."""
        return tuple(self._sent)

    def set_status(self, group_control: int, functional_id: str, status: str) -> None:
        """See `EdiLedger.set_status`."""
        for i, record in enumerate(self._sent):
            g = record.group
            if g.control_number == group_control and g.functional_id == functional_id:
                self._sent[i] = _replace_status(record, status)
        self._changed()

    def _changed(self) -> None:
        """Hook for persisted subclasses."""


class JsonEdiLedger(InMemoryEdiLedger):
    """An `EdiLedger` saved to a JSON file after every change (atomic replace).

    Args:
        path: The file (created on the first change; read when it exists).
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            self._processed = dict(data.get("processed", {}))
            self._sent = [_record_from_json(r) for r in data.get("sent", [])]

    def _changed(self) -> None:
        data = {"processed": self._processed, "sent": [_record_to_json(r) for r in self._sent]}
        save_json(self.path, data)


class JsonControlNumbers(InMemoryControlNumbers):
    """`ControlNumbers` persisted to a JSON file before each number is handed out.

    A number is saved as used before it is returned, so a crash can skip a number but never
    hand out the same one twice.

    Args:
        path: The file (created on first use).
        start: The first number of each counter when the file does not exist yet.
    """

    def __init__(self, path: Path, start: int = 1) -> None:
        self.path = path
        saved: dict[str, int] = {}
        if path.exists():
            saved = {k: int(v) for k, v in json.loads(path.read_text("utf-8")).items()}
        super().__init__(
            saved.get("interchange", start), saved.get("group", start), saved.get("set", start)
        )

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] = 1 if value >= MAX_CONTROL else value + 1
        save_json(self.path, dict(self._next))
        return value


def save_json(path: Path, data: Any) -> None:
    """Write JSON to ``path`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _replace_status(record: SentRecord, status: str) -> SentRecord:
    return replace(record, status=status)


def _record_to_json(r: SentRecord) -> dict[str, Any]:
    return {
        "interchange_control": r.interchange_control,
        "functional_id": r.group.functional_id,
        "group_control": r.group.control_number,
        "sets": [list(s) for s in r.group.sets],
        "file_name": r.file_name,
        "orders": [list(o) for o in r.orders],
        "document": r.document,
        "status": r.status,
        "sent_at": r.sent_at.isoformat() if r.sent_at is not None else None,
    }


def _record_from_json(d: dict[str, Any]) -> SentRecord:
    group = SentGroup(
        d["functional_id"], int(d["group_control"]), tuple((a, b) for a, b in d["sets"])
    )
    orders = tuple((a, b) for a, b in d["orders"])
    sent_at = datetime.fromisoformat(d["sent_at"]) if d.get("sent_at") else None
    return SentRecord(
        int(d["interchange_control"]),
        group,
        d["file_name"],
        orders,
        d["document"],
        d["status"],
        sent_at,
    )
