"""Bad input to `lukener convert`: one line naming file, line and problem; no output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GOOD_ROWS = "EU B-ORG\nrejects O\n\n"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


CONLL_ERRORS = [
    ("no_tag.conll", GOOD_ROWS + "German\n", ":4: row 'German' has no tag"),
    ("bad_prefix.conll", GOOD_ROWS + "German X-PER\n", ":4: tag 'X-PER' is not O nor a B-/I-"),
    ("undecodable.conll", GOOD_ROWS.encode() + b"Caf\xe9 O\n", ":4: undecodable bytes at byte 3"),
    ("empty.conll", "", "empty.conll: empty file: no tagged rows found"),
    ("blank.conll", "\n\n  \n", "blank.conll: empty file"),
    ("empty_tag.tsv", "EU\tB-ORG\nrejects\t\n", ":2: row 'rejects' has an empty tag"),
]

JSONL_ERRORS = [
    ("broken.jsonl", '{"id": "d", "examples": []}\n{"id": ', ":2: broken JSON at column"),
    ("empty.jsonl", "", "empty.jsonl: empty file: no documents found"),
    (
        "outside.jsonl",
        json.dumps(
            {
                "id": "d",
                "examples": [
                    {"id": "e", "text": "ab", "entities": [{"start": 0, "end": 5, "label": "X"}]}
                ],
            }
        ),
        ":1: example 'e': entity [0, 5) is outside the text (length 2) or empty",
    ),
    (
        "reversed.jsonl",
        json.dumps(
            {
                "id": "d",
                "examples": [
                    {"id": "e", "text": "ab", "entities": [{"start": 1, "end": 1, "label": "X"}]}
                ],
            }
        ),
        ":1: example 'e': entity [1, 1) is outside the text",
    ),
    (
        "boundary.jsonl",
        json.dumps(
            {
                "id": "d",
                "examples": [
                    {
                        "id": "e",
                        "text": "New York",
                        "entities": [{"start": 0, "end": 2, "label": "X"}],
                        "word_positions": [[0, 3], [4, 8]],
                    }
                ],
            }
        ),
        ":1: example 'e': entity [0, 2) 'Ne' is not on word boundaries",
    ),
    (
        "duplicate.jsonl",
        json.dumps({"id": "d", "examples": [{"id": "e", "text": "a"}]})
        + "\n"
        + json.dumps({"id": "d2", "examples": [{"id": "e", "text": "b"}]}),
        ":2: duplicate example id 'e'",
    ),
    (
        "overlap.jsonl",
        json.dumps(
            {
                "id": "d",
                "examples": [
                    {
                        "id": "e",
                        "text": "New York City",
                        "entities": [
                            {"start": 0, "end": 8, "label": "LOC"},
                            {"start": 4, "end": 13, "label": "LOC"},
                        ],
                    }
                ],
            }
        ),
        ":1: example 'e': entities overlap at word 1; CoNLL cannot hold overlapping entities",
    ),
    ("not_object.jsonl", "[1, 2]\n", ":1: expected a JSON object, found list"),
]


@pytest.mark.parametrize(("name", "content", "message"), CONLL_ERRORS + JSONL_ERRORS)
def test_bad_input_is_one_clear_line(
    invoke, tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    source = write(tmp_path / name, content)
    output = tmp_path / ("out.conll" if name.endswith(".jsonl") else "out.jsonl")
    result = invoke("convert", source, output)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {source}")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_failure_keeps_an_existing_output_untouched(invoke, tmp_path: Path) -> None:
    source = write(tmp_path / "bad.conll", GOOD_ROWS * 50 + "German X-PER\n")
    output = write(tmp_path / "out.jsonl", "previous content\n")
    assert invoke("convert", source, output).exit_code == 1
    assert output.read_text(encoding="utf-8") == "previous content\n"


def test_missing_input_file(invoke, tmp_path: Path) -> None:
    result = invoke("convert", tmp_path / "nope.conll", tmp_path / "out.jsonl")
    assert result.exit_code == 1
    assert "nope.conll: cannot read the file: No such file or directory" in result.stderr


def test_unknown_scheme_and_column_out_of_range(invoke, tmp_path: Path) -> None:
    source = write(tmp_path / "a.conll", GOOD_ROWS)
    result = invoke("convert", source, tmp_path / "o.jsonl", "--scheme", "bieo")
    assert result.exit_code == 2  # refused by the parser, which names the schemes
    assert "'bieo' is not one of 'auto', 'iob1', 'iob2'" in result.stderr
    assert invoke("convert", source, tmp_path / "o.jsonl", "--scheme", "IOB2").exit_code == 0
    result = invoke("convert", source, tmp_path / "o.jsonl", "--tag-column", "5")
    assert result.exit_code == 1
    assert "a.conll:1: row has 2 columns; the word column 0 or the tag column 5" in result.stderr


def test_debug_variable_shows_the_traceback(runner, tmp_path: Path) -> None:
    from lukener.cli.app import app
    from lukener.errors import LukenerError

    source = write(tmp_path / "a.conll", "German X-PER\n")
    result = runner.invoke(
        app, ["convert", str(source), str(tmp_path / "o.jsonl")], env={"LUKENER_DEBUG": "1"}
    )
    assert isinstance(result.exception, LukenerError)
