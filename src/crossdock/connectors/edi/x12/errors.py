"""Exceptions of the X12 layer (only for what no 997 can report)."""

from __future__ import annotations


class X12Error(Exception):
    """Base class of X12 errors."""


class X12EnvelopeError(X12Error):
    """The interchange envelope cannot be read at all (no usable ISA, bad delimiters).

    Such a document cannot be acknowledged with a 997 (a TA1 would be the answer); the caller
    quarantines the raw bytes with this message.
    """


class X12WriteError(X12Error):
    """A value cannot be written (delimiter inside a value, ISA field too long, ...)."""
