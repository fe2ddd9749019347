"""Salesforce record ids: a 3-character key prefix, 12 more characters, and a 3-character
case-safe checksum (the 18-character form the REST API returns)."""

from __future__ import annotations

import re
import string

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Product2": "01t",
    "Pricebook2": "01s",
    "PricebookEntry": "01u",
    "Order": "801",
    "OrderItem": "802",
    "Case": "500",
}
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_SUFFIX_ALPHABET = string.ascii_uppercase + "012345"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def checksum(id15: str) -> str:
    """The 3-character suffix that makes a 15-character id case-insensitively unique."""
    out = ""
    for chunk in range(3):
        bits = 0
        for i, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if char.isupper():
                bits |= 1 << i
        out += _SUFFIX_ALPHABET[bits]
    return out


def make_id(sobject: str, number: int, pod: str = "5g") -> str:
    """The 18-character id of record ``number`` of ``sobject``."""
    digits = ""
    n = number
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    id15 = f"{KEY_PREFIXES[sobject]}{pod}0{digits}"
    return id15 + checksum(id15)


def normalise(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when it is not one."""
    if not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return value + checksum(value)
    if checksum(value[:15]) != value[15:].upper():
        return None
    return value[:15] + value[15:].upper()


def sobject_of(record_id: str) -> str | None:
    """The object type of an id, by its key prefix."""
    for name, prefix in KEY_PREFIXES.items():
        if record_id.startswith(prefix):
            return name
    return None
