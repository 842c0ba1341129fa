"""Evaluating a span model on gold documents: predict, then score against the original gold."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lukener.data.convert import ConllOptions, read_documents
from lukener.data.documents import Document
from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer
from lukener.files.output_paths import check_output_file
from lukener.modeling.loading import SpanModel, load_span_model
from lukener.spans.encoding import EncodingStats
from lukener.spans.metrics import Metrics, score_documents
from lukener.spans.settings import EncodingOverrides, EncodingSettings
from lukener.tasks.inference import Predictor
from lukener.tasks.options import EvaluateOptions, RunOptions


@dataclass(frozen=True)
class ProcessShare:
    """This process's place among ``size`` processes, and how to gather one object from each
    (in rank order). The default is a single process."""

    rank: int = 0
    size: int = 1
    gather: Callable[[Any], list[Any]] = field(default=lambda item: [item])


@dataclass
class EvaluationResult:
    checkpoint: str
    settings: EncodingSettings
    metrics: Metrics
    stats: EncodingStats
    documents: int
    sentences: int
    notes: list[str] = field(default_factory=list)


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
    run: RunOptions = RunOptions(),
    progress: Callable[[int], None] | None = None,
    share: ProcessShare | None = None,
) -> EvaluationResult:
    """Scores of ``span_model`` on ``documents``, optionally with other encoding settings
    (the model is reused as loaded).

    With ``share`` (several processes, as under torchrun), each process predicts its share
    of the documents, one gather brings every prediction to every process, and each scores
    the whole set once: all get the same result.
    """
    share = share or ProcessShare()
    model = span_model if settings is None else replace(span_model, settings=settings)
    predictor = Predictor(model, run)
    mine = list(predictor.predict(documents[share.rank :: share.size], progress))
    predicted: list[Document] = [Document("", [])] * len(documents)
    stats = EncodingStats()
    for rank, (part, part_stats) in enumerate(share.gather((mine, predictor.stats))):
        predicted[rank :: share.size] = part
        stats.add(part_stats)
    metrics = score_documents(documents, predicted, len(stats.unencodable))
    return EvaluationResult(
        checkpoint=span_model.source,
        settings=model.settings,
        metrics=metrics,
        stats=stats,
        documents=len(documents),
        sentences=sum(len(d.examples) for d in documents),
        notes=[*span_model.notes, *metrics_notes(metrics)],
    )


def metrics_notes(metrics: Metrics) -> list[str]:
    if not metrics.duplicate_gold:
        return []
    note = (
        f"{metrics.duplicate_gold} gold entities are listed twice in their sentence; "
        "each span is counted once"
    )
    return [note]


def evaluate_checkpoint(
    options: EvaluateOptions,
    overrides: EncodingOverrides = EncodingOverrides(),
    run: RunOptions = RunOptions(),
    conll: ConllOptions = ConllOptions(),
    progress: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """``lukener evaluate``: load a checkpoint, read JSONL or CoNLL gold, score, and write
    the metrics to ``options.output`` when given."""
    check_output_file(options.output, [options.data], "--output")
    documents = read_documents(options.data, conll)
    span_model = load_span_model(
        options.checkpoint, overrides=overrides.to_dict(), device=run.device
    )
    check_labels(documents, span_model.labels, options.data)
    result = evaluate_documents(span_model, documents, None, run, progress)
    if options.output is not None:
        with atomic_text_writer(options.output) as stream:
            stream.write(json.dumps(result.metrics.to_json(), indent=2) + "\n")
    return result
