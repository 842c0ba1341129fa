"""`lukener compare` against `lukener evaluate`, and the shipped CoNLL-2003 spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lukener.tasks.benchmark_spec import checkpoint_row, load_spec

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED_F1 = {94.3, 94.20, 94.61, 94.33, 94.22, 94.0, 94.23, 94.05, 93.84, 94.29}


@pytest.fixture(scope="module")
def trained_lite(tmp_path_factory, luke_lite_tokenizer, wnut_small, runner) -> Path:
    """A tiny LUKE span model with a lite entity vocabulary ([MASK] = 0)."""
    from lukener.cli.app import app
    from tests.tiny_models import build_checkpoint

    base = build_checkpoint(tmp_path_factory.mktemp("lite"), luke_lite_tokenizer, seed=1)
    output = tmp_path_factory.mktemp("trained-lite") / "run"
    result = runner.invoke(
        app,
        [
            "train", "--train", str(wnut_small), "--model", str(base), "--output-dir",
            str(output), "--epochs", "3", "--learning-rate", "5e-3",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return output


@pytest.fixture(scope="module")
def runner():
    from typer.testing import CliRunner

    return CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


def evaluate_json(invoke, checkpoint: Path, data: Path, tmp_path: Path, *extra: str) -> dict:
    output = tmp_path / f"evaluate-{len(list(tmp_path.iterdir()))}.json"
    result = invoke(
        "evaluate", "--checkpoint", checkpoint, "--data", data, "--output", output, *extra
    )
    assert result.exit_code == 0, result.output
    return json.loads(output.read_text())


def write_spec(path: Path, full: Path, lite: Path, missing: Path) -> Path:
    path.write_text(
        f"""
[benchmark]
name = "tiny"

[[rows]]
name = "paper"
published = {{ f1 = 50.0, source = "a paper" }}

[[rows]]
name = "full standard"
checkpoint = "{full}"
entity_attention_mask = "standard"
published = {{ precision = 10.0, recall = 10.0, f1 = 10.0, source = "made up" }}

[[rows]]
name = "full legacy"
checkpoint = "{full}"
entity_attention_mask = "legacy"

[[rows]]
name = "lite standard"
checkpoint = "{lite}"
entity_attention_mask = "standard"

[[rows]]
name = "lite legacy"
checkpoint = "{lite}"
entity_attention_mask = "legacy"

[[rows]]
name = "lite words"
checkpoint = "{lite}"
tokenization = "words"
max_entity_length = 7

[[rows]]
name = "missing"
checkpoint = "{missing}"
""",
        encoding="utf-8",
    )
    return path


def test_compare_spec_equals_evaluate(
    invoke, trained_luke, trained_lite, wnut_small, tmp_path, monkeypatch
) -> None:
    import lukener.tasks.comparison

    loads: list[str] = []
    original = lukener.tasks.comparison.load_span_model

    def counting(checkpoint, **kwargs):
        loads.append(checkpoint)
        return original(checkpoint, **kwargs)

    monkeypatch.setattr(lukener.tasks.comparison, "load_span_model", counting)
    missing = tmp_path / "no-such-checkpoint"
    spec = write_spec(tmp_path / "spec.toml", trained_luke, trained_lite, missing)
    outputs = tmp_path / "out"
    outputs.mkdir()
    markdown, json_path = outputs / "table.md", outputs / "rows.json"
    result = invoke(
        "compare", spec, "--data", wnut_small, "--markdown", markdown, "--json", json_path
    )
    assert result.exit_code == 1  # the missing checkpoint failed
    assert sorted(loads) == sorted([str(trained_luke), str(trained_lite), str(missing)])

    rows = {row["name"]: row for row in json.loads(json_path.read_text())["rows"]}
    expected = {
        "full standard": evaluate_json(invoke, trained_luke, wnut_small, tmp_path),
        "full legacy": evaluate_json(
            invoke, trained_luke, wnut_small, tmp_path, "--entity-attention-mask", "legacy"
        ),
        "lite standard": evaluate_json(invoke, trained_lite, wnut_small, tmp_path),
        "lite legacy": evaluate_json(
            invoke, trained_lite, wnut_small, tmp_path, "--entity-attention-mask", "legacy"
        ),
    }
    for name, metrics in expected.items():
        assert rows[name]["metrics"] == metrics, name
        assert rows[name]["f1"] == metrics["micro"]["f1"]
        assert rows[name]["precision"] == metrics["micro"]["precision"]
        assert rows[name]["error"] is None
    # The full vocabulary is unaffected by the quirk; the lite one is.
    assert rows["full legacy"]["metrics"] == rows["full standard"]["metrics"]
    assert rows["lite legacy"]["settings"]["entity_attention_mask"] == "legacy"
    assert rows["lite words"]["settings"]["tokenization"] == "words"
    assert rows["lite words"]["settings"]["max_entity_length"] == 7

    assert rows["missing"]["f1"] is None
    assert "no such checkpoint directory" in rows["missing"]["error"]
    assert rows["paper"]["reference"] is True
    assert rows["paper"]["error"] is None
    f1 = rows["full standard"]["f1"]
    assert rows["full standard"]["difference"] == pytest.approx(100 * f1 - 10.0)

    table = markdown.read_text()
    assert f"| full standard | lukener | {100 * rows['full standard']['precision']:.2f} |" in table
    assert f"{100 * f1:.2f} | 10.00 | {100 * f1 - 10:+.2f} |" in table
    assert "| missing | lukener | failed |" in table
    assert "| paper | - | - | - | - | 50.00 | - |" not in table  # evaluated_with defaults
    assert "| paper | lukener | - | - | - | 50.00 | - |" in table
    assert "full standard" in result.output
    assert "failed" in result.output


def test_compare_checkpoint_options(
    invoke, trained_luke, trained_lite, wnut_small, tmp_path
) -> None:
    json_path = tmp_path / "rows.json"
    result = invoke(
        "compare", "--data", wnut_small, "--checkpoint", trained_luke,
        "--checkpoint", f"{trained_luke}:legacy", "--checkpoint", trained_lite,
        "--json", json_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(json_path.read_text())["rows"]
    assert [row["checkpoint"] for row in rows] == [
        str(trained_luke),
        str(trained_luke),
        str(trained_lite),
    ]
    assert rows[1]["settings"]["entity_attention_mask"] == "legacy"
    assert rows[0]["metrics"] == evaluate_json(invoke, trained_luke, wnut_small, tmp_path)


def test_checkpoint_option_parsing() -> None:
    assert checkpoint_row("org/model:legacy").checkpoint == "org/model"
    assert checkpoint_row("org/model:legacy").entity_attention_mask == "legacy"
    assert checkpoint_row("runs/a").entity_attention_mask is None
    assert checkpoint_row("C:/runs/a").checkpoint == "C:/runs/a"


def test_shipped_spec_names_every_published_row() -> None:
    spec = load_spec(ROOT / "reproduce" / "conll2003-en.toml")
    published = {row.published.f1 for row in spec.rows if row.published is not None}
    assert published == PUBLISHED_F1
    for row in spec.rows:
        if row.checkpoint and "mluke-large-lite-finetuned" in row.checkpoint and row.published:
            assert row.entity_attention_mask == "legacy", row.name
        if row.checkpoint is None:
            assert row.published is not None
    recipes = [row for row in spec.rows if row.recipe is not None]
    assert len(recipes) == 2
    for row in recipes:
        command = row.recipe_command()
        assert command is not None
        assert command.startswith("lukener train --model studio-ousia/")
        assert f"--output-dir {row.checkpoint}" in command


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[rows]\n", "broken TOML"),
        ('[[rows]]\nname = "a"\ncheckpoint = "x"\ncolour = 1\n', "row 1: unknown keys colour"),
        ('[[rows]]\nname = "a"\n', "row 1: a row without a checkpoint is a reference"),
        (
            '[[rows]]\nname = "a"\ncheckpoint = "x"\nentity_attention_mask = "odd"\n',
            "entity_attention_mask must be one of standard, legacy",
        ),
        ("[benchmark]\nname = 'x'\n", "a spec needs at least one [[rows]] entry"),
    ],
)
def test_bad_specs_are_one_line_errors(invoke, tmp_path, wnut_small, content, message) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(content)
    result = invoke("compare", spec, "--data", wnut_small)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {spec}: ")
    assert message in result.stderr


def test_compare_needs_data(invoke, trained_luke) -> None:
    result = invoke("compare", "--checkpoint", trained_luke)
    assert result.exit_code == 1
    assert "no test data: pass --data FILE" in result.stderr
