"""The import-linter contracts are live: a forbidden import in a copy of the package breaks them.

Each test copies `src/crossdock` into a temporary directory, optionally adds a forbidden import,
and runs `lint-imports` on the copy (PYTHONPATH points at it, so the copy is what gets analysed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _contract_name(predicate: Any) -> str:
    matches = [contract["name"] for contract in _contracts() if predicate(contract)]
    assert len(matches) == 1, matches
    return str(matches[0])


def _core_contract(contract: dict[str, Any]) -> bool:
    return (
        contract["type"] == "forbidden"
        and "crossdock.flows" in contract["source_modules"]
        and "crossdock.connectors" in contract["forbidden_modules"]
    )


def _independence_contract(contract: dict[str, Any]) -> bool:
    return contract["type"] == "independence" and "crossdock.connectors.*" in contract["modules"]


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A copy of the source tree and pyproject.toml, without caches."""
    shutil.copytree(
        ROOT / "src" / "crossdock",
        tmp_path / "src" / "crossdock",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(copy: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(copy / "pyproject.toml")]
    return subprocess.run(
        command, cwd=copy, env=env, capture_output=True, text=True, timeout=100, check=False
    )


def _add_module(copy: Path, dotted: str, source: str) -> None:
    path = copy / "src" / Path(*dotted.split("."))
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in (path.parent, *path.parent.parents):
        if parent == copy / "src":
            break
        (parent / "__init__.py").touch()
    path.with_suffix(".py").write_text(source, encoding="utf-8")


def test_the_unmodified_copy_keeps_every_contract(package_copy: Path) -> None:
    result = _lint(package_copy)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(_contracts())} kept, 0 broken" in result.stdout


def test_a_flow_importing_a_connector_breaks_the_core_contract(package_copy: Path) -> None:
    _add_module(package_copy, "crossdock.flows._bad", "import crossdock.connectors\n")

    result = _lint(package_copy)

    assert result.returncode != 0
    out = " ".join(result.stdout.split())  # the report wraps long lines
    assert f"{_contract_name(_core_contract)} BROKEN" in out
    assert "crossdock.flows._bad -> crossdock.connectors" in out
    assert "1 broken" in out


def test_a_connector_importing_another_connector_breaks_independence(package_copy: Path) -> None:
    _add_module(package_copy, "crossdock.connectors.zz_beta.client", "VALUE = 1\n")
    _add_module(
        package_copy,
        "crossdock.connectors.zz_alpha.client",
        "from crossdock.connectors.zz_beta.client import VALUE\n\nUSED = VALUE\n",
    )

    result = _lint(package_copy)

    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert f"{_contract_name(_independence_contract)} BROKEN" in out
    assert (
        "crossdock.connectors.zz_alpha is not allowed to import crossdock.connectors.zz_beta" in out
    )
