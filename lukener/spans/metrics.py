"""The one metric: exact-span precision, recall and F1 against the original gold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lukener.data.documents import Document

SpanKey = tuple[str, int, int, str]  # example id, start, end, label


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, correct: int, predicted: int, gold: int) -> Score:
        precision = correct / predicted if predicted else 0.0
        recall = correct / gold if gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(precision, recall, f1)

    def to_json(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass
class Metrics:
    """Micro and per-type scores with the counts behind them."""

    micro: Score
    macro_f1: float
    per_type: dict[str, Score]
    gold: int
    predicted: int
    correct: int
    unencodable_gold: int = 0
    per_type_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Gold entities listed more than once in one example: each span counts once.
    duplicate_gold: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "micro": self.micro.to_json(),
            "macro": {"f1": self.macro_f1},
            "per_type": {
                label: {**score.to_json(), **self.per_type_counts.get(label, {})}
                for label, score in self.per_type.items()
            },
            "counts": {
                "gold": self.gold,
                "predicted": self.predicted,
                "correct": self.correct,
                "unencodable_gold": self.unencodable_gold,
                "duplicate_gold": self.duplicate_gold,
            },
        }


def entity_keys(documents: Iterable[Document]) -> set[SpanKey]:
    return {
        (example.id, entity.start, entity.end, entity.label)
        for document in documents
        for example in document.examples
        for entity in example.entities
    }


def score_spans(gold: set[SpanKey], predicted: set[SpanKey], unencodable_gold: int = 0) -> Metrics:
    """Exact-match scores of predicted against gold entity keys."""
    correct = gold & predicted
    gold_by_type = Counter(key[3] for key in gold)
    predicted_by_type = Counter(key[3] for key in predicted)
    correct_by_type = Counter(key[3] for key in correct)
    labels = sorted(set(gold_by_type) | set(predicted_by_type))
    per_type = {
        label: Score.of(correct_by_type[label], predicted_by_type[label], gold_by_type[label])
        for label in labels
    }
    counts = {
        label: {
            "gold": gold_by_type[label],
            "predicted": predicted_by_type[label],
            "correct": correct_by_type[label],
        }
        for label in labels
    }
    macro = sum(score.f1 for score in per_type.values()) / len(per_type) if per_type else 0.0
    return Metrics(
        micro=Score.of(len(correct), len(predicted), len(gold)),
        macro_f1=macro,
        per_type=per_type,
        gold=len(gold),
        predicted=len(predicted),
        correct=len(correct),
        unencodable_gold=unencodable_gold,
        per_type_counts=counts,
    )


def score_documents(
    gold: Iterable[Document], predicted: Iterable[Document], unencodable_gold: int = 0
) -> Metrics:
    """Scores of predicted documents against the original gold documents; gold entities
    listed twice are counted once, and how many were is kept in ``duplicate_gold``."""
    gold = list(gold)
    listed = sum(len(example.entities) for document in gold for example in document.examples)
    keys = entity_keys(gold)
    metrics = score_spans(keys, entity_keys(predicted), unencodable_gold)
    metrics.duplicate_gold = listed - len(keys)
    return metrics
