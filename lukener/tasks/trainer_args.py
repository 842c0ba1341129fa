"""``--trainer-arg KEY=VALUE``: any Hugging Face ``TrainingArguments`` setting, checked.

Values are read as JSON where they parse (``true``, ``1.0``, ``["tensorboard"]``) and as
strings otherwise (``cosine``, ``ds_config.json``). Settings lukener has a flag for are
refused with the flag's name, and those it must control itself are refused outright, so a
run never silently ignores what it was told.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from collections.abc import Sequence
from typing import Any

import torch

from lukener.errors import LukenerError
from lukener.tasks.run_checkpoints import CHECKPOINTS_DIR
from lukener.tasks.train_options import TrainOptions

# TrainingArguments fields with a lukener flag of their own.
FLAGGED = {
    "num_train_epochs": "--epochs",
    "max_steps": "--max-steps",
    "per_device_train_batch_size": "--batch-size",
    "per_device_eval_batch_size": "--eval-batch-size",
    "gradient_accumulation_steps": "--gradient-accumulation-steps",
    "learning_rate": "--learning-rate",
    "weight_decay": "--weight-decay",
    "max_grad_norm": "--max-grad-norm",
    "warmup_steps": "--warmup-ratio",
    "warmup_ratio": "--warmup-ratio",
    "seed": "--seed",
    "bf16": "--bf16",
    "fp16": "--fp16",
    "logging_steps": "--logging-steps",
    "output_dir": "--output-dir",
    "resume_from_checkpoint": "--resume",
}
# Secrets: never taken as a flag, so never written to the model card, pickled into a
# checkpoint's training_args.bin (both are uploaded by --push-to-hub) or echoed in an error.
# The hub's token comes from the environment (HF_TOKEN) or its login (`hf auth login`).
SECRETS = frozenset({"hub_token"})
# Settings the span training depends on.
CONTROLLED = frozenset(
    {
        "remove_unused_columns",
        "load_best_model_at_end",
        "metric_for_best_model",
        "greater_is_better",
        "eval_strategy",
        "save_strategy",
        "label_names",
    }
)


def parse_trainer_args(items: Sequence[str] | None) -> dict[str, Any]:
    """``["lr_scheduler_type=cosine", ...]`` -> ``{"lr_scheduler_type": "cosine", ...}``,
    checked against the installed ``TrainingArguments``."""
    if not items:
        return {}
    from transformers import TrainingArguments

    known = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise LukenerError(f"--trainer-arg: {item!r} is not KEY=VALUE")
        if key in FLAGGED:
            raise LukenerError(f"--trainer-arg: {key} has its own flag, {FLAGGED[key]}")
        if key in SECRETS:
            raise LukenerError(
                f"--trainer-arg: {key} is a secret and is never taken on the command line "
                "(it would be saved with the checkpoint): set HF_TOKEN or run `hf auth login`"
            )
        if key in CONTROLLED:
            raise LukenerError(f"--trainer-arg: {key} is set by lukener's span training")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise LukenerError(f"--trainer-arg: TrainingArguments has no setting {key!r}{hint}")
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parsed[key] = value
    return parsed


def distributed_backend() -> str | None:
    """gloo for several CPU processes (torchrun on a machine without GPUs), else the default."""
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    return "gloo" if several and not torch.cuda.is_available() else None


def span_training_settings(options: TrainOptions, has_validation: bool) -> dict[str, Any]:
    """lukener's ``TrainingArguments`` for a run: the options given, naist-nlp/luke-ner's
    AdamW and schedule, one evaluation and one save each epoch (the best F1 kept), and the
    settings the span training depends on (:data:`CONTROLLED`)."""
    optimization, speed = options.optimization, options.speed
    return {
        "output_dir": str(options.output.output_dir / CHECKPOINTS_DIR),
        "num_train_epochs": optimization.epochs,
        "max_steps": optimization.max_steps,
        "per_device_train_batch_size": optimization.batch_size,
        "per_device_eval_batch_size": speed.eval_batch_size,
        "gradient_accumulation_steps": optimization.gradient_accumulation_steps,
        "learning_rate": optimization.learning_rate,
        "weight_decay": optimization.weight_decay,
        "warmup_steps": optimization.warmup_ratio,
        "lr_scheduler_type": "linear",
        "adam_beta1": 0.9,
        "adam_beta2": 0.98,
        "adam_epsilon": 1e-6,
        "max_grad_norm": optimization.max_grad_norm,
        "seed": optimization.seed,
        "bf16": speed.bf16,
        "fp16": speed.fp16,
        "eval_strategy": "epoch" if has_validation else "no",
        "save_strategy": "epoch",
        "save_total_limit": 2,
        "load_best_model_at_end": has_validation,
        "metric_for_best_model": "f1" if has_validation else None,
        "greater_is_better": True if has_validation else None,
        "logging_steps": options.output.logging_steps,
        "report_to": "none",
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": torch.cuda.is_available(),
        "ddp_backend": distributed_backend(),
        "train_sampling_strategy": "group_by_length" if optimization.group_by_length else "random",
    }


def training_arguments(settings: dict[str, Any], extra: dict[str, Any]) -> Any:
    """``TrainingArguments`` from lukener's settings with the user's ``extra`` on top; an
    invalid combination is one clear error."""
    from transformers import TrainingArguments

    try:
        return TrainingArguments(**{**settings, **extra})
    except (ValueError, TypeError, ImportError) as error:
        given = ", ".join(f"{k}={v!r}" for k, v in extra.items())
        where = f" (with --trainer-arg {given})" if extra else ""
        raise LukenerError(f"invalid training arguments{where}: {error}") from None
