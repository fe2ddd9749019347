"""The canonical event envelope: CloudEvents 1.0 attribute names plus correlation and causation.

Every event the hub stores or publishes is an `Event`. Its `data` is the JSON form of a canonical
entity or change (money as decimal strings, never floats); `dataschema` names the schema version
that `data` follows, for example ``urn:crossdock:schema:order.v1``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crossdock.canonical.ids import new_id

SPEC_VERSION = "1.0"
SCHEMA_URN_PREFIX = "urn:crossdock:schema:"


def schema_urn(schema: str) -> str:
    """Return the `dataschema` URN of a schema version such as ``order.v1``."""
    return f"{SCHEMA_URN_PREFIX}{schema}"


class Event(BaseModel):
    """One canonical event, immutable once built.

    Attribute names follow CloudEvents 1.0; `correlationid` and `causationid` are extension
    attributes (CloudEvents extension names are lower-case letters and digits only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: str = SPEC_VERSION
    id: str = Field(default_factory=new_id)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    correlationid: str
    causationid: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def caused(
        self,
        *,
        type: str,
        source: str,
        data: dict[str, Any],
        subject: str | None = None,
        dataschema: str | None = None,
    ) -> Event:
        """Return a new event caused by this one: same correlation id, causation id = this id."""
        return Event(
            type=type,
            source=source,
            subject=subject if subject is not None else self.subject,
            dataschema=dataschema,
            correlationid=self.correlationid,
            causationid=self.id,
            data=data,
        )
