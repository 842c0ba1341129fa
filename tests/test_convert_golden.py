"""`lukener convert` on small hand-written snippets, compared with checked golden files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import jsonl_records

CASES = [
    # (input, expected JSONL, extra options, scheme reported)
    ("iob1_adjacent.conll", "iob1_adjacent.jsonl", [], "IOB1 (detected)"),
    ("iob2.tsv", "iob2.jsonl", [], "IOB2 (detected)"),
    ("bioes.conll", "bioes.jsonl", [], "BIOES (detected)"),
    ("ja_ragged.tsv", "ja_ragged.jsonl", ["--language", "ja"], "IOB2 (detected)"),
]


@pytest.mark.parametrize(("source", "expected", "options", "scheme"), CASES)
def test_conll_to_jsonl_matches_golden(
    invoke, golden: Path, tmp_path: Path, source: str, expected: str, options, scheme: str
) -> None:
    output = tmp_path / expected
    result = invoke("convert", golden / source, output, *options)
    assert result.exit_code == 0, result.output
    # Ids are made from the input's file name, as naist-nlp/luke-ner does.
    assert output.read_text(encoding="utf-8") == (golden / expected).read_text(encoding="utf-8")
    assert scheme in result.output


def test_iob1_golden_keeps_adjacent_entities_apart(golden: Path) -> None:
    documents = jsonl_records(golden / "iob1_adjacent.jsonl")
    example = documents[0]["examples"][1]
    surfaces = [example["text"][e["start"] : e["end"]] for e in example["entities"]]
    assert surfaces == ["Paris", "Berlin", "New York", "John Smith", "Mary Jones"]
    assert [len(d["examples"]) for d in documents] == [2, 1]


def test_iob2_repair_is_reported(invoke, golden: Path, tmp_path: Path) -> None:
    result = invoke("convert", golden / "iob2.tsv", tmp_path / "out.jsonl")
    assert "ill-formed tags repaired" in result.output
    assert "1 (lines 13)" in result.output


def test_no_space_text_keeps_words(golden: Path) -> None:
    example = jsonl_records(golden / "ja_ragged.jsonl")[0]["examples"][0]
    assert example["text"] == "東京都に住む田中"
    assert [example["text"][s:e] for s, e in example["word_positions"]] == [
        "東京",
        "都",
        "に",
        "住む",
        "田中",
    ]


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [([], "iob1_adjacent.iob2.conll"), (["--scheme", "bioes"], "iob1_adjacent.bioes.conll")],
)
def test_jsonl_to_conll_matches_golden(
    invoke, golden: Path, tmp_path: Path, scheme: list[str], expected: str
) -> None:
    output = tmp_path / "out.conll"
    result = invoke("convert", golden / "iob1_adjacent.jsonl", output, *scheme)
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding="utf-8") == (golden / expected).read_text(encoding="utf-8")


def test_sentences_per_document_groups_sentences(invoke, golden: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    result = invoke("convert", golden / "bioes.conll", output, "--sentences-per-document", "5")
    assert result.exit_code == 0, result.output
    documents = jsonl_records(output)
    assert [[e["id"] for e in d["examples"]] for d in documents] == [
        ["bioes.conll-0-0", "bioes.conll-0-1"]
    ]


def test_forced_scheme_is_used(invoke, golden: Path, tmp_path: Path) -> None:
    # Read as IO, the IOB1 file's B- tags are outside the scheme.
    result = invoke(
        "convert", golden / "iob1_adjacent.conll", tmp_path / "o.jsonl", "--scheme", "io"
    )
    assert result.exit_code == 1
    assert "iob1_adjacent.conll:15: tag 'B-LOC' is outside the IO scheme" in result.output
