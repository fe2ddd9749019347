"""Shared building blocks of the canonical entities: the base model and common field types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.types import Strict

from crossdock.canonical.money import Money

__all__ = [
    "CanonicalModel",
    "HubId",
    "NonEmptyStr",
    "Timestamp",
    "check_single_currency",
    "iter_money",
]


class CanonicalModel(BaseModel):
    """Base of every canonical model: strict, closed (`extra="forbid"`) and immutable.

    Strict mode refuses silent coercions ("3" for 3, 1.5 for a Decimal). Timestamps are the one
    relaxation: they accept ISO-8601 text so that the JSON form of an entity (an event's `data`)
    validates back into the model with `model_validate`.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
"""Text that must not be empty."""

HubId = Annotated[
    str,
    Field(
        description=(
            "Hub identifier (UUIDv7 text from crossdock.canonical.ids.new_id). Absent while an "
            "entity is first built from a source payload, before the links table assigns it."
        ),
        min_length=1,
    ),
]
"""A canonical (hub) identifier. Other systems' ids live in links, never in the model."""

Timestamp = Annotated[AwareDatetime, Strict(False)]
"""A timezone-aware instant; ISO-8601 text with an offset is accepted."""


def iter_money(value: object) -> Iterator[tuple[str, Money]]:
    """Yield ``(path, money)`` for every `Money` inside a model, list or dict, depth first."""
    if isinstance(value, Money):
        yield "", value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            for path, money in iter_money(getattr(value, name)):
                yield (f"{name}.{path}" if path else name), money
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            for path, money in iter_money(item):
                yield (f"{index}.{path}" if path else str(index)), money
    elif isinstance(value, dict):
        for key, item in value.items():
            for path, money in iter_money(item):
                yield (f"{key}.{path}" if path else str(key)), money


def check_single_currency(model: BaseModel, currency: str) -> None:
    """Raise `ValueError` naming the first amount of `model` that is not in `currency`."""
    for path, money in iter_money(model):
        if money.currency != currency:
            raise ValueError(
                f"{path} is in {money.currency}, but the document currency is {currency}"
            )
