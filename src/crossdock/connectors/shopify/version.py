"""The pinned Admin API version and its retirement date.

Shopify releases a stable version each quarter (``YYYY-01``, ``-04``, ``-07``, ``-10``) and supports
it for 12 months: version ``2026-01`` is retired on 2027-01-01. The connector pins one version in
configuration; `version_status` says how close it is to retirement (warning within 90 days,
error once past) from the `Clock`, and `check_api_version` logs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Protocol

from crossdock.runtime.clock import Clock

__all__ = [
    "WARNING_DAYS",
    "ApiVersionError",
    "VersionState",
    "VersionStatus",
    "check_api_version",
    "release_date",
    "retirement_date",
    "version_status",
]

WARNING_DAYS = 90
_VERSION_RE = re.compile(r"^(\d{4})-(01|04|07|10)$")


class ApiVersionError(ValueError):
    """A configured version that is not a Shopify stable version name (``YYYY-MM``, quarterly)."""


class VersionState(StrEnum):
    """Where the pinned version stands."""

    SUPPORTED = "supported"
    RETIRING = "retiring"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class VersionStatus:
    """The pinned version's state on a given day.

    Attributes:
        version: e.g. ``2026-01``.
        state: supported, retiring (within `WARNING_DAYS` of retirement) or retired.
        retires_on: the first day Shopify no longer serves it.
        days_left: days until `retires_on` (negative once past).
    """

    version: str
    state: VersionState
    retires_on: date
    days_left: int

    @property
    def message(self) -> str:
        """A sentence an operator reads."""
        if self.state is VersionState.RETIRED:
            return (
                f"Shopify API version {self.version} was retired on {self.retires_on}; "
                "Shopify now serves the oldest supported version instead: upgrade the pin"
            )
        return (
            f"Shopify API version {self.version} retires on {self.retires_on} "
            f"({self.days_left} days left)"
        )


def release_date(version: str) -> date:
    """Return the release day of a stable version (``2026-01`` -> 2026-01-01).

    Raises:
        ApiVersionError: not a quarterly stable version name.
    """
    match = _VERSION_RE.match(version.strip())
    if match is None:
        raise ApiVersionError(
            f"{version!r} is not a Shopify stable API version (YYYY-01, -04, -07 or -10)"
        )
    return date(int(match.group(1)), int(match.group(2)), 1)


def retirement_date(version: str) -> date:
    """Return the day a stable version stops being supported: 12 months after its release."""
    released = release_date(version)
    return released.replace(year=released.year + 1)


def version_status(version: str, now: datetime) -> VersionStatus:
    """Tell whether `version` is supported, retiring within 90 days, or retired at `now`."""
    retires_on = retirement_date(version)
    today = now.astimezone(UTC).date()
    days_left = (retires_on - today).days
    if days_left <= 0:
        state = VersionState.RETIRED
    elif days_left <= WARNING_DAYS:
        state = VersionState.RETIRING
    else:
        state = VersionState.SUPPORTED
    return VersionStatus(version, state, retires_on, days_left)


class _Logger(Protocol):
    def warning(self, event: str, *args: Any, **kw: Any) -> Any: ...
    def error(self, event: str, *args: Any, **kw: Any) -> Any: ...


def check_api_version(version: str, clock: Clock, logger: _Logger | None = None) -> VersionStatus:
    """Compute the pinned version's status and log a warning (retiring) or an error (retired).

    Args:
        version: the pinned version.
        clock: the clock port (never the wall clock directly).
        logger: a structlog-style logger; nothing is logged when None.
    """
    status = version_status(version, clock.now())
    if logger is not None:
        fields: dict[str, object] = {
            "api_version": status.version,
            "retires_on": status.retires_on.isoformat(),
            "days_left": status.days_left,
        }
        if status.state is VersionState.RETIRED:
            logger.error("shopify.api_version.retired", message=status.message, **fields)
        elif status.state is VersionState.RETIRING:
            logger.warning("shopify.api_version.retiring", message=status.message, **fields)
    return status
