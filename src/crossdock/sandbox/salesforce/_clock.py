"""The org's virtual clock: real time plus an offset that tests move forward."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class VirtualClock:
    """Real time plus `offset` seconds (``advance`` moves it; nothing ever moves it back)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch on the virtual clock."""
        return time.time() + self.offset

    def now_ms(self) -> int:
        """Milliseconds since the epoch (``issued_at``, ``commitTimestamp``)."""
        return int(self.now() * 1000)

    def iso(self) -> str:
        """``2026-11-27T04:30:00.000+0000``, Salesforce's datetime form."""
        moment = datetime.fromtimestamp(self.now(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
