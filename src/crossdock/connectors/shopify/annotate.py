"""``order.annotate``: what a command asks of an order's tags and note, and what that changes.

Pure: the connector reads the order's tags and note, asks `Annotation.plan` what to write, and
writes only that. Tags are added or removed as a set (a tag already there, or already gone,
asks for nothing); the note line is appended once, found again by the marker
``[crossdock:<idempotency key>]`` it ends with (the convention refund notes follow too).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crossdock.backbone.store import Command, JSONObject
from crossdock.connectorkit import PermanentFailureError

__all__ = ["Annotation", "AnnotationPlan", "command_marker", "marked_note", "split_tags"]


def command_marker(command: Command) -> str:
    """``[crossdock:<idempotency key>]``: how a note or refund made by `command` is found."""
    return f"[crossdock:{command.idempotency_key}]"


def marked_note(command: Command) -> str:
    """The payload's ``note`` followed by the command's marker."""
    note = str(command.payload.get("note") or "").strip()
    return f"{note} {command_marker(command)}".strip()


def split_tags(tags: Any) -> list[str]:
    """Shopify's tags as a list: REST sends one comma-separated string, GraphQL a list."""
    if tags is None:
        return []
    items = tags.split(",") if isinstance(tags, str) else [str(t) for t in tags]
    return [t.strip() for t in items if t.strip()]


@dataclass(frozen=True, slots=True)
class AnnotationPlan:
    """What to write to one order.

    Attributes:
        add: Tags to add (those the order lacks).
        remove: Tags to remove (those the order has).
        tags: The order's tags once written.
        note: The order's whole new note, or None to leave the note alone.
    """

    add: tuple[str, ...]
    remove: tuple[str, ...]
    tags: tuple[str, ...]
    note: str | None

    @property
    def tags_changed(self) -> bool:
        """Whether any tag is to be added or removed."""
        return bool(self.add or self.remove)

    def result(self, order_id: int) -> JSONObject:
        """The command's result once the plan is written."""
        return {
            "order_id": order_id,
            "tags": list(self.tags),
            "tags_added": list(self.add),
            "tags_removed": list(self.remove),
            "note_added": self.note is not None,
        }


@dataclass(frozen=True, slots=True)
class Annotation:
    """An ``order.annotate`` payload, checked.

    Attributes:
        order_id: Shopify's numeric order id.
        tags_add: Tags to have on the order.
        tags_remove: Tags not to have on the order.
        note_line: The marked line to append to the note, or None.
        marker: The command's marker (the note line ends with it).
    """

    order_id: int
    tags_add: tuple[str, ...]
    tags_remove: tuple[str, ...]
    note_line: str | None
    marker: str

    @classmethod
    def from_command(cls, command: Command, order_id: int) -> Annotation:
        """Read and check the payload (`order_id` is its ``order_id``, already read).

        Raises:
            PermanentFailureError: a tag that is not a non-empty string without a comma, a
                tag both added and removed, a note that is not text, or nothing asked at all.
        """
        payload = command.payload
        add = _tags(payload, "tags_add")
        remove = _tags(payload, "tags_remove")
        both = sorted(set(add) & set(remove))
        if both:
            raise PermanentFailureError(
                f"order.annotate: {', '.join(both)} both in tags_add and tags_remove"
            )
        note = payload.get("note")
        if note is not None and not isinstance(note, str):
            raise PermanentFailureError(f"order.annotate: note must be text, got {note!r}")
        line = marked_note(command) if note and note.strip() else None
        if not add and not remove and line is None:
            raise PermanentFailureError("order.annotate needs tags_add, tags_remove or a note")
        return cls(order_id, add, remove, line, command_marker(command))

    def plan(self, tags: Sequence[str], note: str | None) -> AnnotationPlan:
        """What to write to an order that now has `tags` and `note`."""
        have = list(tags)
        add = tuple(t for t in self.tags_add if t not in have)
        remove = tuple(t for t in self.tags_remove if t in have)
        after = tuple(t for t in [*have, *add] if t not in remove)
        new_note = None
        if self.note_line is not None and self.marker not in (note or ""):
            kept = (note or "").rstrip()
            new_note = f"{kept}\n{self.note_line}" if kept else self.note_line
        return AnnotationPlan(add, remove, after, new_note)


def _tags(payload: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = payload.get(key)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise PermanentFailureError(f"order.annotate: {key} must be a list of tags, got {raw!r}")
    tags: list[str] = []
    for tag in raw:
        if not isinstance(tag, str) or not tag.strip() or "," in tag:
            raise PermanentFailureError(
                f"order.annotate: {key} holds {tag!r}; a tag is non-empty text without a comma"
            )
        if tag.strip() not in tags:
            tags.append(tag.strip())
    return tuple(tags)
