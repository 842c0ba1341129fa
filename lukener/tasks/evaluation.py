"""Evaluating a span model on gold documents: predict, then score against the original gold."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lukener.data.documents import Document
from lukener.data.label_map import LabelMap
from lukener.data.reading_options import ReadingOptions
from lukener.data.sources import read_documents
from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer
from lukener.files.output_paths import check_output_file
from lukener.modeling.loading import load_span_model
from lukener.modeling.span_model import SpanModel
from lukener.spans.decoding import ScoredSpan
from lukener.spans.encoded import EncodingStats
from lukener.spans.metrics import Metrics, score_documents
from lukener.spans.settings import EncodingOverrides, EncodingSettings
from lukener.tasks.command_options import EvaluateOptions
from lukener.tasks.predictor import Predictor, decoded_document
from lukener.tasks.run_options import RunOptions


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
    # Scores at other thresholds (``--thresholds``), from the same prediction run.
    by_threshold: dict[float, Metrics] = field(default_factory=dict)
    # Which forward ran, and why (lukener.modeling.forward_choice).
    forward: str = ""


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
    thresholds: Sequence[float] = (),
    label_map: LabelMap | None = None,
) -> EvaluationResult:
    """Scores of ``span_model`` on ``documents``, optionally with other encoding settings
    (the model is reused as loaded).

    With ``share`` (several processes, as under torchrun), each process predicts its share
    of the documents, one gather brings every prediction to every process, and each scores
    the whole set once: all get the same result. ``thresholds`` also scores the same
    predictions with candidates below each threshold dropped (``by_threshold``).
    ``label_map`` is applied to the predictions (the gold was read with it).
    """
    label_map = label_map or LabelMap()
    share = share or ProcessShare()
    model = span_model if settings is None else replace(span_model, settings=settings)
    predictor = Predictor(model, run)
    mine = [
        candidates
        for _, candidates in predictor.predict_candidates(
            documents[share.rank :: share.size], progress
        )
    ]
    candidates: list[dict[str, list[ScoredSpan]]] = [{}] * len(documents)
    stats = EncodingStats()
    for rank, (part, part_stats) in enumerate(share.gather((mine, predictor.stats))):
        candidates[rank :: share.size] = part
        stats.add(part_stats)

    def scored_at(threshold: float) -> Metrics:
        predicted = [
            label_map.document(
                decoded_document(document, found, model.id2label, run.nested, threshold)
            )
            for document, found in zip(documents, candidates, strict=True)
        ]
        return score_documents(documents, predicted, len(stats.unencodable))

    metrics = scored_at(run.threshold)
    return EvaluationResult(
        checkpoint=span_model.source,
        settings=model.settings,
        metrics=metrics,
        stats=stats,
        documents=len(documents),
        sentences=sum(len(d.examples) for d in documents),
        notes=[*span_model.notes, *metrics_notes(metrics)],
        by_threshold={threshold: scored_at(threshold) for threshold in thresholds},
        forward=predictor.chosen_forward.describe(),
    )


def parse_thresholds(text: str | None) -> list[float]:
    """``"0.3,0.5,0.7"`` -> ``[0.3, 0.5, 0.7]``, each in [0, 1]."""
    values = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        try:
            value = float(item)
        except ValueError:
            raise LukenerError(f"--thresholds: {item.strip()!r} is not a number") from None
        if not 0.0 <= value <= 1.0:
            raise LukenerError(f"--thresholds: {value} is outside [0, 1]")
        values.append(value)
    return values


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
    conll: ReadingOptions = ReadingOptions(),
    progress: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """``lukener evaluate``: load a checkpoint, read JSONL or CoNLL gold, score, and write
    the metrics to ``options.output`` when given."""
    # The checkpoint is an input too: its files are read while the output is written.
    check_output_file(options.output, [options.data, options.checkpoint], "--output")
    thresholds = parse_thresholds(options.thresholds)
    label_map = LabelMap.parse(conll.label_map)
    documents = read_documents(options.data, conll)
    span_model = load_span_model(
        options.checkpoint, overrides=overrides.to_dict(), device=run.device, onnx=run.onnx
    )
    check_labels(documents, label_map.labels(span_model.labels), options.data)
    result = evaluate_documents(
        span_model, documents, None, run, progress, thresholds=thresholds, label_map=label_map
    )
    if options.output is not None:
        data = result.metrics.to_json()
        if result.by_threshold:
            data["by_threshold"] = {
                str(t): m.to_json() for t, m in sorted(result.by_threshold.items())
            }
        with atomic_text_writer(options.output) as stream:
            stream.write(json.dumps(data, indent=2) + "\n")
    return result
