"""`Secret`: a credential that never shows itself in a repr, a log line or a traceback."""

from __future__ import annotations

import hmac


class Secret:
    """Holds a credential; `str`, `repr` and f-strings show ``Secret('***')``.

    Call `reveal()` only where the value goes on the wire.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret holds a str")
        self._value = value

    @classmethod
    def of(cls, value: str | Secret) -> Secret:
        """Return `value` as a Secret (unchanged when it already is one)."""
        return value if isinstance(value, Secret) else cls(value)

    def reveal(self) -> str:
        """Return the credential itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled")
