from __future__ import annotations

import subprocess
import sys

import pytest


def test_module_entry_point_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lukener", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "120", "PATH": ""},
    )
    for command in ("convert", "train", "evaluate", "predict", "compare", "prepare-data"):
        assert command in result.stdout


def test_convert_help_has_examples(invoke) -> None:
    result = invoke("convert", "--help")
    assert result.exit_code == 0
    assert "lukener convert eng.train train.jsonl" in result.stdout


@pytest.mark.parametrize(
    "command", ["convert", "train", "evaluate", "predict", "compare", "demo", "prepare-data"]
)
def test_every_command_has_help_with_examples(invoke, command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
