"""Fine-tuning a span model with the Hugging Face ``Trainer``: the run, start to end.

Works on one device or many (``torchrun``, ``accelerate launch``): the ``Trainer``
handles the processes, and only the main process writes the final files. The jobs of a run
live beside this module: the Trainer subclass (span_trainer.py), the checkpoint files and
resume (run_checkpoints.py), the optimizer (optimizer.py), the ``TrainingArguments``
(trainer_args.py) and the pretokenize choice (pretokenize_choice.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from lukener.data.documents import Document
from lukener.data.label_map import NON_ENTITY_NAMES
from lukener.errors import LukenerError
from lukener.files.output_directory import (
    claimed_output_directory,
    staged_run,
    staging_directory,
)
from lukener.modeling.fused_attention import set_span_attention
from lukener.modeling.loading import load_span_model
from lukener.spans.encoded import EncodingStats
from lukener.spans.encoding import SpanEncoder
from lukener.spans.metrics import Metrics
from lukener.tasks.model_card import push_to_hub
from lukener.tasks.run_checkpoints import (
    CHECKPOINTS_DIR,
    last_checkpoint,
    remove_incomplete_checkpoints,
    save_checkpoint,
    save_failure,
)
from lukener.tasks.threads import configure_threads
from lukener.tasks.train_options import TrainOptions


@dataclass
class TrainResult:
    output_dir: Path
    metrics: Metrics | None
    train_stats: EncodingStats
    validation_stats: EncodingStats | None
    global_steps: int
    train_seconds: float
    steps_per_second: float
    labels: list[str] = field(default_factory=list)
    main_process: bool = True
    labels_without_training_data: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def is_main_process() -> bool:
    """Whether this is the process that writes (rank 0 under torchrun or accelerate)."""
    return os.environ.get("RANK", "0") == "0"


def train(options: TrainOptions) -> TrainResult:
    """Fine-tune ``options.data.model`` on ``options.data.train``; the best epoch by
    validation F1 is kept. Returns what the run measured.

    The output directory is claimed first (see ``lukener.files.output_directory``): it must
    not hold an input, nothing lukener did not write there is ever removed, and two runs
    cannot share it.
    """
    output = options.output
    resume_from = None
    if output.resume:
        resume_from = last_checkpoint(output.output_dir)
        if resume_from is None:
            raise LukenerError("--resume: no saved checkpoint to resume from", output.output_dir)
    staged = output.overwrite and not output.resume
    if not is_main_process():
        # The main process claims the directory; with --overwrite every process writes to
        # the same staging directory.
        if staged:
            options = _writing_to(options, staging_directory(output.output_dir))
        return _train(options, resume_from)
    inputs: list[tuple[str, str | Path | None]] = [
        ("--model", options.data.model),
        ("--train", options.data.train),
        ("--validation", options.data.validation),
    ]
    with claimed_output_directory(
        output.output_dir, inputs, output.overwrite, output.resume
    ) as claimed:
        if output.resume:
            remove_incomplete_checkpoints(output.output_dir)
        if not staged:
            return _train(options, resume_from)
        # The new run replaces the old one only once complete: a run that fails (bad data,
        # a mistyped model, an interrupt) leaves the old checkpoint as it was.
        with staged_run(claimed) as staging:
            result = _train(_writing_to(options, staging), resume_from)
        return replace(result, output_dir=output.output_dir)


def _writing_to(options: TrainOptions, directory: Path) -> TrainOptions:
    return replace(options, output=replace(options.output, output_dir=directory))


def _check_entity_labels(labels: list[str], source: Path) -> None:
    """Refuse entities labelled with the non-entity label's name: the model could not tell
    them from non-entities, and nothing could load the checkpoint."""
    named = [label for label in labels if label in NON_ENTITY_NAMES]
    if named:
        raise LukenerError(
            f"entities labelled {', '.join(named)}, the name of the non-entity label: rename "
            f"them (--label-map {named[0]}=NAME) or drop them (--label-map {named[0]}=-)",
            source,
        )


def _unseen_labels(labels: list[str], validation_documents: list[Document]) -> list[str]:
    """The types only the validation data has: they get a label (so they are scored, as
    misses) but no training signal; reported, not fatal."""
    found = {e.label for d in validation_documents for x in d.examples for e in x.entities}
    return sorted(found - set(labels))


def _train(options: TrainOptions, resume_from: Path | None) -> TrainResult:
    from transformers import EarlyStoppingCallback, TrainerCallback, set_seed

    from lukener.data.sources import read_documents
    from lukener.modeling.forward_choice import choose_training_forward
    from lukener.tasks.optimizer import build_optimizer
    from lukener.tasks.predictor import collator_for
    from lukener.tasks.pretokenize_choice import with_chosen_pretokenize
    from lukener.tasks.span_trainer import ListDataset, SpanTrainer
    from lukener.tasks.trainer_args import (
        parse_trainer_args,
        span_training_settings,
        training_arguments,
    )
    from lukener.tasks.training_chunks import TrainingChunks, redraw_callback

    data, optimization, output = options.data, options.optimization, options.output
    if not torch.cuda.is_available():
        configure_threads(options.run.threads)
    extra_arguments = parse_trainer_args(optimization.trainer_arg)
    if "optim" in extra_arguments and optimization.head_learning_rate is not None:
        raise LukenerError(
            "--head-learning-rate needs lukener's AdamW; drop it or --trainer-arg optim"
        )
    train_documents = read_documents(data.train, options.reading)
    labels = sorted({e.label for d in train_documents for x in d.examples for e in x.entities})
    if not labels:
        raise LukenerError("the training data has no entities", data.train)
    _check_entity_labels(labels, data.train)
    validation_documents = None
    unseen: list[str] = []
    if data.validation is not None:
        validation_documents = read_documents(data.validation, options.reading)
        unseen = _unseen_labels(labels, validation_documents)
        _check_entity_labels(unseen, data.validation)
        labels = sorted([*labels, *unseen])

    set_seed(optimization.seed)  # before the new classification head is initialised
    span_model = load_span_model(
        data.model,
        labels=labels,
        overrides=options.encoding_settings(),
        device="cpu",  # the Trainer places the model
    )
    if options.encoding.span_attention is not None:
        try:
            set_span_attention(span_model.model, options.encoding.span_attention)
        except ValueError as error:
            raise LukenerError(f"--span-attention: {error}") from None
    if options.encoding.pretokenize is None:
        span_model = with_chosen_pretokenize(span_model, train_documents)
    label2id = {label: i for i, label in span_model.id2label.items()}
    encoder = SpanEncoder(
        span_model.tokenizer,
        span_model.settings,
        label2id,
        optimization.negative_rate,
        optimization.seed,
    )
    train_dataset = TrainingChunks(
        encoder, train_documents, optimization.fresh_negatives, optimization.seed
    )

    has_validation = bool(validation_documents)
    arguments = training_arguments(span_training_settings(options, has_validation), extra_arguments)
    callbacks: list[TrainerCallback] = [redraw_callback(train_dataset)]
    if optimization.early_stopping_patience and has_validation:
        callbacks.append(
            EarlyStoppingCallback(early_stopping_patience=optimization.early_stopping_patience)
        )
    padded = options.speed.padded_forward
    forward = choose_training_forward(
        span_model,
        arguments.device.type,
        packed=None if padded is None else not padded,
        linear_products=options.run.linear_products,
    )
    trainer = SpanTrainer(
        span_model=span_model,
        validation_documents=validation_documents or [],
        forward=forward,
        model=span_model.model,
        args=arguments,
        data_collator=collator_for(span_model),
        train_dataset=train_dataset,
        eval_dataset=ListDataset(validation_documents or []) if has_validation else None,
        callbacks=callbacks,
        optimizers=(
            None if "optim" in extra_arguments else build_optimizer(span_model.model, optimization),
            None,
        ),
    )
    result = trainer.train(resume_from_checkpoint=None if resume_from is None else str(resume_from))

    metrics = None
    validation_stats = None
    if validation_documents:
        final = trainer.evaluate_span_model()
        metrics, validation_stats = final.metrics, final.stats
    if trainer.is_world_process_zero():
        try:
            save_checkpoint(trainer, span_model, options, metrics, labels, extra_arguments)
        except Exception as error:  # noqa: BLE001 (torch, safetensors and OS errors alike)
            raise save_failure(output.output_dir, error) from None
        if options.card.push_to_hub:
            push_to_hub(output.output_dir, options.card.push_to_hub)
        if not output.keep_checkpoints:
            # Intermediate checkpoints (optimizer states included) only serve --resume.
            shutil.rmtree(output.output_dir / CHECKPOINTS_DIR, ignore_errors=True)
    return TrainResult(
        output_dir=output.output_dir,
        metrics=metrics,
        train_stats=train_dataset.stats,
        validation_stats=validation_stats,
        global_steps=trainer.state.global_step,
        train_seconds=float(result.metrics.get("train_runtime", 0.0)),
        steps_per_second=float(result.metrics.get("train_steps_per_second", 0.0)),
        labels=labels,
        main_process=trainer.is_world_process_zero(),
        labels_without_training_data=unseen,
        notes=list(span_model.notes),
    )
