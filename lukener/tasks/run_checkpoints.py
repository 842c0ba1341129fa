"""A training run's files: the per-epoch checkpoints it resumes from, and the final
checkpoint with lukener's settings, metrics, log and model card."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer
from lukener.modeling.checkpoints import first_line
from lukener.modeling.legacy_tokenizer_files import write_legacy_tokenizer_files
from lukener.modeling.loading import position_limit
from lukener.modeling.span_attention import span_attention_of
from lukener.modeling.span_model import SpanModel
from lukener.spans.metrics import Metrics
from lukener.spans.settings import save_settings
from lukener.tasks.model_card import model_card
from lukener.tasks.train_options import TrainOptions

CHECKPOINTS_DIR = "checkpoints"
CARD_FILE = "README.md"
METRICS_FILE = "metrics.json"
LOG_FILE = "training_log.jsonl"
COMPLETE_MARKER = ".lukener-complete"


def is_complete(checkpoint: Path) -> bool:
    """A checkpoint lukener finished saving (marked after the Trainer wrote every file);
    one that a kill cut short has no marker and is never resumed from."""
    return (checkpoint / COMPLETE_MARKER).is_file()


def mark_complete(checkpoint: Path) -> None:
    (checkpoint / COMPLETE_MARKER).write_text("complete\n", encoding="utf-8")


def checkpoint_dirs(directory: Path) -> list[Path]:
    """``checkpoint-N`` folders under ``directory/checkpoints``, oldest first."""
    checkpoints = directory / CHECKPOINTS_DIR
    if not checkpoints.is_dir():
        return []
    found = [
        p
        for p in checkpoints.iterdir()
        if p.is_dir() and p.name.startswith("checkpoint-") and p.name[11:].isdigit()
    ]
    return sorted(found, key=lambda p: int(p.name[11:]))


def last_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint of a run, if any."""
    complete = [p for p in checkpoint_dirs(directory) if is_complete(p)]
    return complete[-1] if complete else None


def remove_incomplete_checkpoints(directory: Path) -> list[Path]:
    """Remove the checkpoints a kill left half-written (lukener's own files only)."""
    removed = [p for p in checkpoint_dirs(directory) if not is_complete(p)]
    for checkpoint in removed:
        shutil.rmtree(checkpoint, ignore_errors=True)
    return removed


def save_failure(directory: Path, error: BaseException) -> LukenerError:
    return LukenerError(
        f"cannot save a checkpoint: {first_line(error)} (is the disk full or read-only?)",
        directory,
    )


def save_checkpoint(
    trainer: Any,
    span_model: SpanModel,
    options: TrainOptions,
    metrics: Metrics | None,
    labels: Sequence[str] = (),
    extra_arguments: dict[str, Any] | None = None,
) -> None:
    """The output directory: a Hugging Face checkpoint, lukener's files and a model card."""
    directory = options.output.output_dir
    trainer.save_model(str(directory))
    # A tokenizer without a maximum says 1e30; readers that fill inputs up to it (naist-nlp/
    # luke-ner's) then run past the model's positions. Write the model's own maximum.
    limit = position_limit(span_model.model.config)
    span_model.tokenizer.model_max_length = min(span_model.tokenizer.model_max_length, limit)
    span_model.tokenizer.save_pretrained(str(directory))
    write_legacy_tokenizer_files(directory, span_model.tokenizer)
    save_settings(
        directory,
        span_model.settings,
        entity_vocab={"[MASK]": span_model.entity_mask_id, "[PAD]": span_model.entity_pad_id},
        trained_from=options.data.model,
    )
    # Each file complete or absent, as every output of lukener.
    if metrics is not None:
        with atomic_text_writer(directory / METRICS_FILE) as stream:
            stream.write(json.dumps(metrics.to_json(), indent=2) + "\n")
    with atomic_text_writer(directory / LOG_FILE) as log:
        for entry in trainer.state.log_history:
            log.write(json.dumps(entry) + "\n")
    with atomic_text_writer(directory / CARD_FILE) as stream:
        stream.write(card_for(options, span_model, metrics, labels, extra_arguments or {}))


def card_for(
    options: TrainOptions,
    span_model: SpanModel,
    metrics: Metrics | None,
    labels: Sequence[str],
    extra_arguments: dict[str, Any],
) -> str:
    """The checkpoint's model card, from what this run used and measured."""
    optimization, data, card = options.optimization, options.data, options.card
    hyperparameters: dict[str, Any] = {
        "epochs": optimization.epochs,
        "batch size": optimization.batch_size,
        "learning rate": optimization.learning_rate,
        "classifier learning rate": optimization.head_learning_rate or optimization.learning_rate,
        "weight decay": optimization.weight_decay,
        "warmup ratio": optimization.warmup_ratio,
        "gradient norm clipped to": optimization.max_grad_norm or "no clipping",
        "negative span rate": optimization.negative_rate,
        "negatives": "drawn afresh each epoch" if optimization.fresh_negatives else "drawn once",
        "span attention": span_attention_of(span_model.model.config),
        "seed": optimization.seed,
        **{f"TrainingArguments.{k}": v for k, v in extra_arguments.items()},
    }
    datasets = [Path(str(p)).name for p in (data.train, data.validation) if p is not None]
    return model_card(
        repo_hint=card.push_to_hub or options.output.output_dir.name,
        base_model=data.model,
        labels=labels,
        languages=[x.strip() for x in (card.language or "").split(",") if x.strip()],
        license_name=card.license,
        datasets=datasets,
        metrics=metrics,
        metrics_split="validation",
        hyperparameters=hyperparameters,
        encoding=span_model.settings.to_json(),
    )
