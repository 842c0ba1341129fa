"""Evaluating a span model on gold documents: predict, then score against the original gold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lukener.convert import ConllOptions, read_documents
from lukener.documents import Document
from lukener.errors import LukenerError
from lukener.inference import RunOptions
from lukener.metrics import Metrics, score_documents
from lukener.model import SpanModel, load_span_model
from lukener.settings import EncodingSettings
from lukener.span_encoding import EncodingStats


@dataclass
class EvaluationResult:
    checkpoint: str
    settings: EncodingSettings
    metrics: Metrics
    stats: EncodingStats
    documents: int
    sentences: int


def check_labels(documents: Sequence[Document], known: Sequence[str], path: Path) -> None:
    """Fail on gold labels the model cannot predict."""
    found = {e.label for d in documents for x in d.examples for e in x.entities}
    unknown = sorted(found - set(known))
    if unknown:
        raise LukenerError(
            f"labels {', '.join(unknown)} are not among the model's labels "
            f"({', '.join(known) or 'none'})",
            path,
        )


def evaluate_documents(
    span_model: SpanModel,
    documents: Sequence[Document],
    settings: EncodingSettings | None = None,
    run: RunOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """Scores of ``span_model`` on ``documents``, optionally with other encoding settings
    (the model is reused as loaded)."""
    model = span_model if settings is None else replace(span_model, settings=settings)
    predictor = (run or RunOptions()).predictor(model)
    predicted = list(predictor.predict(documents, progress))
    metrics = score_documents(documents, predicted, len(predictor.stats.unencodable))
    return EvaluationResult(
        checkpoint=span_model.source,
        settings=model.settings,
        metrics=metrics,
        stats=predictor.stats,
        documents=len(documents),
        sentences=sum(len(d.examples) for d in documents),
    )


def evaluate_checkpoint(
    checkpoint: str,
    data: Path,
    overrides: dict[str, Any] | None = None,
    run: RunOptions | None = None,
    conll_options: ConllOptions | None = None,
    device: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """``lukener evaluate``: load a checkpoint, read JSONL or CoNLL gold, score."""
    documents = read_documents(data, conll_options or ConllOptions())
    span_model = load_span_model(checkpoint, overrides=overrides, device=device)
    check_labels(documents, span_model.labels, data)
    return evaluate_documents(span_model, documents, None, run, progress)
