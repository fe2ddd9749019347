"""Postal addresses. Any Unicode is allowed (Zoë Ørsted, 東京); nothing is transliterated."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from crossdock.canonical.base import CanonicalModel
from crossdock.canonical.money import ExactDecimal

__all__ = ["Address", "CountryCode"]

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2 country code, upper case."""


class Address(CanonicalModel):
    """A postal address as given by a source system; every part is optional.

    Attributes:
        name: the addressee as one string ("Zoë Ørsted").
        region: state or province name; `region_code` its code ("BY", "CA").
        country_code: ISO 3166-1 alpha-2; `country` the name as the source wrote it.
    """

    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    region_code: str | None = None
    postal_code: str | None = None
    country: str | None = None
    country_code: CountryCode | None = None
    phone: str | None = None
    email: str | None = None
    latitude: ExactDecimal | None = None
    longitude: ExactDecimal | None = None
