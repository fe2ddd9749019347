"""Transliteration of any text to the printable ASCII that X12 partners accept."""

from __future__ import annotations

import unicodedata

# Letters and signs that Unicode decomposition (NFKD) does not reduce to ASCII.
_TABLE: dict[str, str] = {
    "Ø": "O",
    "ø": "o",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "ß": "ss",
    "ẞ": "SS",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Þ": "TH",
    "þ": "th",
    "Ħ": "H",
    "ħ": "h",
    "ı": "i",
    "Ŀ": "L",
    "ŀ": "l",
    "Ŋ": "N",
    "ŋ": "n",
    "ĸ": "q",
    "ſ": "s",
    "Ŧ": "T",
    "ŧ": "t",
    "Ɖ": "D",
    "ɖ": "d",
    "Ə": "E",
    "ə": "e",
    "Ʒ": "Z",
    "ʒ": "z",
    "ƒ": "f",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "‹": "<",
    "›": ">",
    "«": "<<",
    "»": ">>",
    "–": "-",
    "—": "-",
    "‒": "-",
    "―": "-",
    "−": "-",
    "‐": "-",
    "‑": "-",
    "…": "...",
    "•": "*",
    "·": ".",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "©": "(C)",
    "®": "(R)",
    "™": "TM",
    "°": "o",
    "×": "x",
    "÷": "/",
    "¿": "?",
    "¡": "!",
    "§": "S",
    "¶": "P",
    "µ": "u",
    "ª": "a",
    "º": "o",
    "¹": "1",
    "²": "2",
    "³": "3",
    "¼": "1/4",
    "½": "1/2",
    "¾": "3/4",
}
_REPLACEMENT = "?"


def to_ascii(text: str) -> str:
    """Transliterate text to printable ASCII, keeping the case of every letter.

    Decomposable letters lose their marks (``ë`` -> ``e``), letters that do not decompose use a
    table (``Ø`` -> ``O``, ``Æ`` -> ``AE``, ``ß`` -> ``ss``, ``Ł`` -> ``L``), whitespace and
    control characters become a space, anything else becomes ``?``.
    """
    out: list[str] = []
    for char in text:
        if " " <= char <= "~":
            out.append(char)
        elif char in _TABLE:
            out.append(_TABLE[char])
        elif char.isspace() or unicodedata.category(char).startswith("C"):
            out.append(" ")
        else:
            out.append(_decompose(char))
    return "".join(out)


def to_x12_upper(text: str) -> str:
    """Transliterate text to upper-case printable ASCII (X12 basic character set letters).

    Example:
        >>> to_x12_upper("Zoë Ørsted")
        'ZOE ORSTED'
    """
    return to_ascii(text).upper()


def _decompose(char: str) -> str:
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    mapped = "".join(_TABLE.get(c, c) for c in base)
    if mapped and all(" " <= c <= "~" for c in mapped):
        return mapped
    return _REPLACEMENT
