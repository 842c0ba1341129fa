from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lukener.cli.app import app

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def runner() -> CliRunner:
    # A fixed, wide terminal so tables and errors render the same everywhere.
    return CliRunner(env={"COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"})


@pytest.fixture
def invoke(runner: CliRunner):
    def run(*args: str | os.PathLike[str], input: str | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return run


@pytest.fixture
def golden() -> Path:
    return GOLDEN
