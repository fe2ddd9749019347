"""The four X12 delimiters, declared by each interchange's ISA segment."""

from __future__ import annotations

from dataclasses import dataclass

from crossdock.connectors.edi.x12.errors import X12EnvelopeError

_LINE_BREAKS = frozenset("\r\n")


@dataclass(frozen=True)
class Delimiters:
    """Delimiters of one interchange.

    Attributes:
        element: Element separator (ISA character 4), conventionally ``*``.
        component: Component (sub-element) separator, ISA16, conventionally ``>``.
        segment: Segment terminator (the character after ISA16), conventionally ``~``;
            a line feed is allowed.
        repetition: Repetition separator (ISA11) from version 00402 on; ``None`` up to 00401,
            where ISA11 holds the standards identifier ``U``.
        suffix: Line break the writer puts after each terminator (``""``, ``"\\n"`` or
            ``"\\r\\n"``); readers ignore it.
    """

    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None
    suffix: str = ""

    def __post_init__(self) -> None:
        chars = [self.element, self.component, self.segment]
        if self.repetition is not None:
            chars.append(self.repetition)
        for char in chars:
            if len(char) != 1:
                raise X12EnvelopeError(f"a delimiter must be one character, got {char!r}")
            if char.isalnum() or char == " ":
                raise X12EnvelopeError(f"a delimiter cannot be a letter, digit or space: {char!r}")
        if len(set(chars)) != len(chars):
            raise X12EnvelopeError(f"delimiters must differ from each other: {chars!r}")
        if (self.element in _LINE_BREAKS) or (self.component in _LINE_BREAKS):
            raise X12EnvelopeError("only the segment terminator may be a line break")
        if self.repetition is not None and self.repetition in _LINE_BREAKS:
            raise X12EnvelopeError("only the segment terminator may be a line break")
        if any(c not in _LINE_BREAKS for c in self.suffix):
            raise X12EnvelopeError(f"the suffix may hold only CR and LF, got {self.suffix!r}")
        if self.suffix and self.segment in _LINE_BREAKS:
            raise X12EnvelopeError("no suffix when the segment terminator is itself a line break")

    @property
    def reserved(self) -> frozenset[str]:
        """Characters that may never appear inside an element value."""
        chars = {self.element, self.component, self.segment, *self.suffix}
        if self.repetition is not None:
            chars.add(self.repetition)
        return frozenset(chars)


DEFAULT_DELIMITERS = Delimiters()
"""``*`` elements, ``>`` components, ``~`` terminator, no line breaks."""
