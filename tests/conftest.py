"""Shared test fixtures. Each area keeps its own fixtures in tests/fixtures/<area>.py."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Area fixture modules (tests/fixtures/*.py) are loaded as pytest plugins.
pytest_plugins = sorted(
    f"fixtures.{p.stem}" for p in (ROOT / "tests" / "fixtures").glob("*.py") if p.stem != "__init__"
)
sys.path.insert(0, str(ROOT / "tests"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def _run_cli(args: list[str], cwd: Path | None = None, env: dict | None = None, timeout: int = 600,
             check: bool = False) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "aksar", *map(str, args)],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"aksar {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def run_cli():
    """Run `python -m aksar ARGS` in a subprocess; returns CompletedProcess (text mode)."""
    return _run_cli
