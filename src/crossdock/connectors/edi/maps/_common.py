"""Pieces shared by the maps: party loops, product ids, dates, decimals, map results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar

from crossdock.connectors.edi.translit import to_x12_upper
from crossdock.connectors.edi.x12.envelope import Segment
from crossdock.connectors.edi.x12.findings import Finding

T = TypeVar("T")

PRODUCT_QUALIFIERS = frozenset(
    {"SK", "VN", "VP", "UP", "UK", "UA", "EN", "EA", "BP", "IN", "PI", "CB", "MG", "BL", "ND"}
)
"""Product/Service ID qualifiers (235) a partner may put in front of an id."""
SKU_QUALIFIERS = ("SK", "VN", "VP", "BP", "IN", "PI", "CB", "MG")
UPC_QUALIFIERS = ("UP", "UK", "UA", "EN", "EA")


@dataclass(frozen=True)
class Address:
    """A party of an N1 loop (N1/N2/N3/N4).

    Attributes:
        name: N102.
        id_qualifier: N103 (e.g. ``92`` assigned by buyer, ``ZZ``, ``1`` DUNS).
        id: N104.
        lines: N301/N302 (and more N3s).
        city: N401.
        state: N402.
        postal_code: N403.
        country: N404 (ISO 3166 alpha-2).
    """

    name: str
    id_qualifier: str = ""
    id: str = ""
    lines: tuple[str, ...] = ()
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class Mapped(Generic[T]):
    """What a map returns: the value (``None`` when a fatal finding stopped it) and findings."""

    value: T | None
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the value was produced and nothing fatal was found."""
        return self.value is not None and not any(x.fatal for x in self.findings)


def read_party_loops(segments: Sequence[Segment]) -> dict[str, Address]:
    """All N1 loops of a segment run, keyed by entity code (N101); the first of a code wins."""
    out: dict[str, Address] = {}
    current: Segment | None = None
    lines: list[str] = []
    n4: Segment | None = None

    def close() -> None:
        if current is not None and current.get(1) not in out:
            out[current.get(1)] = Address(
                current.get(2),
                current.get(3),
                current.get(4),
                tuple(lines),
                *(n4.get(i) if n4 else "" for i in range(1, 5)),
            )

    for segment in segments:
        if segment.tag == "N1":
            close()
            current, lines, n4 = segment, [], None
        elif current is not None and segment.tag == "N3":
            lines.extend(v for v in (segment.get(1), segment.get(2)) if v)
        elif current is not None and segment.tag == "N4":
            n4 = segment
        elif current is not None and segment.tag not in ("N2", "PER", "N9"):
            close()
            current = None
    close()
    return out


def write_party_loop(code: str, party: Address) -> list[Segment]:
    """N1 (+N3 per two lines, +N4) for one party; text transliterated to upper ASCII."""
    up = to_x12_upper
    out = [Segment.of("N1", code, up(party.name)[:60], party.id_qualifier, party.id)]
    if party.id and not party.id_qualifier:
        raise ValueError(f"party {code} has an id without an id qualifier (N103)")
    lines = [up(line)[:55] for line in party.lines]
    out.extend(Segment.of("N3", *lines[i : i + 2]) for i in range(0, len(lines), 2))
    if party.city or party.postal_code:
        out.append(
            Segment.of(
                "N4",
                up(party.city)[:30],
                up(party.state),
                party.postal_code.upper(),
                party.country.upper(),
            )
        )
    return out


def product_ids(values: Iterable[str]) -> dict[str, str]:
    """Qualifier/id pairs from a run of elements, tolerating pairs written id-first."""
    items = list(values)
    out: dict[str, str] = {}
    for i in range(0, len(items) - 1, 2):
        first, second = items[i], items[i + 1]
        if first in PRODUCT_QUALIFIERS and second:
            out.setdefault(first, second)
        elif second in PRODUCT_QUALIFIERS and first:
            out.setdefault(second, first)
    return out


def pick(ids: Mapping[str, str], qualifiers: Sequence[str]) -> str:
    """The id under the first qualifier present, or ""."""
    return next((ids[q] for q in qualifiers if ids.get(q)), "")


def parse_date(value: str) -> date | None:
    """CCYYMMDD (or YYMMDD) to a date; None when empty or invalid."""
    formats = {8: "%Y%m%d", 6: "%y%m%d"}
    if len(value) not in formats or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, formats[len(value)]).date()
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    """HHMM[SS] to a time; None when empty or invalid."""
    formats = {4: "%H%M", 6: "%H%M%S"}
    head = value[:6]
    if len(head) not in formats or not value.isdigit():
        return None
    try:
        return datetime.strptime(head, formats[len(head)]).time()
    except ValueError:
        return None


def parse_decimal(value: str) -> Decimal | None:
    """An R/N element to Decimal; None when empty or not a number."""
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def format_decimal(value: Decimal) -> str:
    """Decimal as an X12 R value: no exponent, no trailing zeros after the point."""
    return format(value.normalize(), "f")
