"""`lukener convert` on the real corpora shipped by PyPI packages."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lukener.data.corpora import japanese_source, wnut16_source
from tests.helpers import jsonl_records


def raw_sentences(path: Path) -> list[list[tuple[str, str]]]:
    """(word, tag) rows per sentence, parsed here independently of lukener."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        columns = line.split("\t")
        current.append((columns[0], columns[-1]))
    if current:
        sentences.append(current)
    return sentences


def independent_entity_count(sentences: list[list[tuple[str, str]]]) -> Counter[str]:
    """Entities of an IOB2 file: every B-, plus every I- whose type differs from the tag before."""
    counts: Counter[str] = Counter()
    for sentence in sentences:
        previous_type = None
        for _, tag in sentence:
            tag_type = None if tag == "O" else tag[2:]
            if tag.startswith("B-") or (tag.startswith("I-") and tag_type != previous_type):
                counts[tag[2:]] += 1
            previous_type = tag_type
    return counts


@pytest.fixture(params=["wnut16", "japanese"])
def corpus(request: pytest.FixtureRequest) -> tuple[Path, list[str]]:
    if request.param == "wnut16":
        return wnut16_source(), []
    return japanese_source(), ["--language", "ja"]


def test_corpus_converts_with_source_counts(invoke, tmp_path: Path, corpus) -> None:
    source, options = corpus
    output = tmp_path / "corpus.jsonl"
    result = invoke("convert", source, output, *options)
    assert result.exit_code == 0, result.output

    sentences = raw_sentences(source)
    documents = jsonl_records(output)
    examples = [example for document in documents for example in document["examples"]]
    assert len(examples) == len(sentences)
    converted = Counter(e["label"] for example in examples for e in example["entities"])
    assert converted == independent_entity_count(sentences)
    for example, sentence in zip(examples, sentences, strict=True):
        words = [example["text"][start:end] for start, end in example["word_positions"]]
        assert words == [word for word, _ in sentence]
    if options:  # no-space text: the words joined with nothing between them
        assert all(
            e["text"] == "".join(w for w, _ in s) for e, s in zip(examples, sentences, strict=True)
        )


def test_corpus_counts_are_the_known_ones(invoke, tmp_path: Path) -> None:
    result = invoke("convert", wnut16_source(), tmp_path / "w.jsonl")
    assert "2,394" in result.output  # tweets
    assert "1,496" in result.output  # entities
    examples = [e for d in jsonl_records(tmp_path / "w.jsonl") for e in d["examples"]]
    assert len(examples) == 2394


def test_round_trip_keeps_every_word_and_entity(invoke, tmp_path: Path, corpus) -> None:
    source, options = corpus
    first, conll, second = tmp_path / "a.jsonl", tmp_path / "b.conll", tmp_path / "c.jsonl"
    assert invoke("convert", source, first, *options).exit_code == 0
    assert invoke("convert", first, conll).exit_code == 0
    assert invoke("convert", conll, second, *options).exit_code == 0

    def content(path: Path) -> list[list[tuple[str, list[str], list[tuple[str, str]]]]]:
        return [
            [
                (
                    e["text"],
                    [e["text"][s:t] for s, t in e["word_positions"]],
                    [(e["text"][x["start"] : x["end"]], x["label"]) for x in e["entities"]],
                )
                for e in document["examples"]
            ]
            for document in jsonl_records(path)
        ]

    assert content(first) == content(second)


def test_round_trip_through_bioes_with_documents(invoke, golden: Path, tmp_path: Path) -> None:
    first, conll, second = tmp_path / "a.jsonl", tmp_path / "b.conll", tmp_path / "a2.jsonl"
    assert invoke("convert", golden / "iob1_adjacent.conll", first).exit_code == 0
    assert invoke("convert", first, conll, "--scheme", "bioes").exit_code == 0
    assert invoke("convert", conll, second).exit_code == 0
    strip_ids = [
        [(e["text"], e["entities"], e["word_positions"]) for e in d["examples"]]
        for d in jsonl_records(first)
    ]
    assert strip_ids == [
        [(e["text"], e["entities"], e["word_positions"]) for e in d["examples"]]
        for d in jsonl_records(second)
    ]


def test_prepare_data_splits_in_file_order(invoke, tmp_path: Path) -> None:
    result = invoke("prepare-data", tmp_path)
    assert result.exit_code == 0, result.output
    splits = {
        name: [
            e for d in jsonl_records(tmp_path / "wnut16" / f"{name}.jsonl") for e in d["examples"]
        ]
        for name in ("train", "validation", "test")
    }
    assert {name: len(examples) for name, examples in splits.items()} == {
        "train": 1700,
        "validation": 200,
        "test": 494,
    }
    tweets = raw_sentences(wnut16_source())
    for name, first_index in (("train", 0), ("validation", 1700), ("test", 1900)):
        first_words = [splits[name][0]["text"][s:e] for s, e in splits[name][0]["word_positions"]]
        assert first_words == [word for word, _ in tweets[first_index]]
    japanese = {
        name: [
            e
            for d in jsonl_records(tmp_path / "hironsan-ja" / f"{name}.jsonl")
            for e in d["examples"]
        ]
        for name in ("train", "test")
    }
    assert (len(japanese["train"]), len(japanese["test"])) == (450, 50)
    assert " " not in japanese["test"][0]["text"]
