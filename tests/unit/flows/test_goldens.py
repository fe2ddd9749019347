"""Decision replay: recorded event histories must give the same commands as their golden files.

A change to the flow that alters its decisions fails here until the goldens are updated on
purpose, after reviewing the diff:

    CROSSDOCK_UPDATE_GOLDENS=1 .venv/bin/pytest tests/unit/flows/test_goldens.py

(then ``git diff tests/fixtures/flows/`` shows exactly which decisions changed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIXTURES, Replay, histories


def _golden_path(history: Path) -> Path:
    return history.with_name(history.stem + ".golden.json")


def _exists(path: Path) -> bool:
    return path.exists()


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.mark.parametrize("history", histories(), ids=lambda p: p.stem)
async def test_history_gives_the_golden_decisions(history: Path, replay: Replay) -> None:
    transcript = await replay(_load(history))
    golden = _golden_path(history)
    if os.environ.get("CROSSDOCK_UPDATE_GOLDENS") == "1":
        _save(golden, transcript)
    assert _exists(golden), f"{golden.name} is missing: run CROSSDOCK_UPDATE_GOLDENS=1 pytest"
    expected = _load(golden)
    assert transcript == expected, (
        f"the flow's decisions for {history.name} changed; if on purpose, regenerate with "
        "CROSSDOCK_UPDATE_GOLDENS=1 and review the diff"
    )


def test_every_history_has_a_golden() -> None:
    missing = [h.name for h in histories() if not _golden_path(h).exists()]
    assert histories(), "no recorded histories found"
    assert not missing, f"histories without a golden file: {missing}"


async def test_a_changed_decision_is_caught_by_the_goldens(replay: Replay) -> None:
    history = _load(FIXTURES / "routing_canada_to_edi.json")
    history["settings"]["routing"] = [{"warehouse": "shipstation", "countries": [], "channels": []}]
    changed = await replay(history)
    assert changed != _load(FIXTURES / "routing_canada_to_edi.golden.json")
