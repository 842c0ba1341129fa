"""The decoder and the metric (cross-checked against seqeval)."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from lukener.data.documents import Document, Entity, Example
from lukener.data.schemes import tags_to_spans
from lukener.spans.decoding import ScoredSpan, decode_spans
from lukener.spans.metrics import score_documents, score_spans


def span(start: int, end: int, label: int, probability: float, logit: float) -> ScoredSpan:
    return ScoredSpan(start, end, label, probability, logit)


def test_greedy_drops_non_entities_and_overlaps_by_logit() -> None:
    candidates = [
        span(0, 10, 1, 0.9, 2.0),  # overlaps the next, lower logit: dropped
        span(5, 15, 2, 0.6, 3.0),
        span(20, 25, 0, 0.99, 9.0),  # non-entity
        span(16, 19, 1, 0.5, 1.0),
        span(15, 16, 3, 0.4, 0.5),  # touches but does not overlap (end exclusive)
    ]
    kept = decode_spans(candidates)
    assert [(s.start, s.end) for s in kept] == [(5, 15), (15, 16), (16, 19)]


def test_ranking_is_by_logit_not_probability() -> None:
    # A has the higher probability, B the higher logit: the official decoder keeps B.
    a, b = span(0, 5, 1, 0.95, 1.0), span(3, 8, 2, 0.70, 4.0)
    assert decode_spans([a, b]) == [b]


def test_nested_keeps_overlapping_entities() -> None:
    candidates = [span(0, 10, 1, 0.9, 2.0), span(5, 15, 2, 0.6, 3.0), span(1, 2, 0, 0.9, 5.0)]
    assert [(s.start, s.end) for s in decode_spans(candidates, nested=True)] == [(0, 10), (5, 15)]


def random_tags(rng: random.Random, length: int) -> list[str]:
    tags = []
    for _ in range(length):
        roll = rng.random()
        label = rng.choice(["PER", "LOC", "ORG"])
        if roll < 0.55:
            tags.append("O")
        elif roll < 0.8:
            tags.append(f"B-{label}")
        elif tags and tags[-1] != "O":
            tags.append("I-" + tags[-1][2:])
        else:
            tags.append("O")
    return tags


def valid_iob2(tags: list[str]) -> list[str]:
    """Replace every I- that does not continue an entity of its type by O, left to right,
    so that seqeval's strict mode and lukener read the same spans."""
    fixed: list[str] = []
    for tag in tags:
        continues = bool(fixed) and fixed[-1] != "O" and fixed[-1][2:] == tag[2:]
        fixed.append("O" if tag.startswith("I-") and not continues else tag)
    return fixed


def documents_from_tags(sentences: list[list[str]]) -> list[Document]:
    examples = []
    for i, tags in enumerate(sentences):
        spans, _ = tags_to_spans(tags, "iob2")
        # One character per word: word j spans [2j, 2j + 1).
        entities = [Entity(2 * s.start, 2 * s.end - 1, s.label) for s in spans]
        examples.append(Example(f"s{i}", " ".join("w" * len(tags)), entities))
    return [Document("d", examples)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metric_equals_seqeval_strict(seed: int) -> None:
    rng = random.Random(seed)
    gold = [random_tags(rng, rng.randint(1, 30)) for _ in range(200)]
    predicted = [
        [tag if rng.random() < 0.8 else random_tags(rng, 1)[0] for tag in sentence]
        for sentence in gold
    ]
    predicted = [valid_iob2(sentence) for sentence in predicted]
    ours = score_documents(documents_from_tags(gold), documents_from_tags(predicted))
    report = classification_report(
        gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
    )
    micro = report["micro avg"]
    assert ours.micro.precision == pytest.approx(micro["precision"])
    assert ours.micro.recall == pytest.approx(micro["recall"])
    assert ours.micro.f1 == pytest.approx(micro["f1-score"])
    assert ours.macro_f1 == pytest.approx(report["macro avg"]["f1-score"])
    for label in ("PER", "LOC", "ORG"):
        assert ours.per_type[label].f1 == pytest.approx(report[label]["f1-score"])
        assert ours.per_type_counts[label]["gold"] == report[label]["support"]


def test_gold_spans_that_were_never_candidates_still_count_against_recall() -> None:
    gold = {("s", 0, 5, "PER"), ("s", 6, 40, "ORG")}  # the second could not be encoded
    metrics = score_spans(gold, {("s", 0, 5, "PER")}, unencodable_gold=1)
    assert metrics.micro.precision == 1.0
    assert metrics.micro.recall == 0.5
    assert metrics.to_json()["counts"] == {
        "gold": 2,
        "predicted": 1,
        "correct": 1,
        "unencodable_gold": 1,
        "duplicate_gold": 0,
    }
    assert set(metrics.to_json()) == {"micro", "macro", "per_type", "counts"}
