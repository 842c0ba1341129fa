"""`lukener train`: fine-tune a LUKE or mLUKE span model with the Hugging Face Trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from . import options as opt
from .render import console, encoding_notes, metrics_table, reports_user_errors

HELP = """Fine-tune a span model; the best epoch by validation F1 is kept.

The output directory is a Hugging Face checkpoint (LukeForEntitySpanClassification and
its tokenizer) plus lukener.json (how to encode), metrics.json and training_log.jsonl.
Defaults are naist-nlp/luke-ner's: lr 1e-5, weight decay 0.01, 5 epochs, batch 8,
warmup ratio 0.06. Several GPUs: torchrun --nproc_per_node N -m lukener train ...

Examples:

  lukener train --train data/wnut16/train.jsonl --validation data/wnut16/validation.jsonl \\
      --model studio-ousia/luke-base --output-dir runs/wnut

  lukener train --train eng.train --validation eng.testa --model studio-ousia/mluke-large-lite \\
      --output-dir runs/mluke --bf16 --tokenization words

  lukener train ... --output-dir runs/wnut --resume      # after an interruption
"""


@reports_user_errors
def train_command(
    train: Annotated[Path, typer.Option(help="Training documents: JSONL or CoNLL.")],
    model: Annotated[str, typer.Option(help="Pretrained LUKE/mLUKE: directory or hub id.")],
    output_dir: Annotated[Path, typer.Option(help="Where the checkpoint is written.")],
    validation: Annotated[
        Path | None, typer.Option(help="Validation documents: F1 each epoch picks the best.")
    ] = None,
    epochs: Annotated[float, typer.Option(min=0)] = 5.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (-1: epochs).")] = -1,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    learning_rate: Annotated[float, typer.Option(min=0)] = 1e-5,
    weight_decay: Annotated[float, typer.Option(min=0)] = 0.01,
    warmup_ratio: Annotated[float, typer.Option(min=0, max=0.999)] = 0.06,
    gradient_accumulation_steps: Annotated[int, typer.Option(min=1)] = 1,
    max_entity_length: Annotated[int, typer.Option(min=1, help="Spans per input.")] = 64,
    max_mention_length: Annotated[int, typer.Option(min=1, help="Longest span, subwords.")] = 16,
    tokenization: Annotated[
        str, typer.Option(help="raw (each sentence at once) or words (word by word).")
    ] = "raw",
    pretokenize: Annotated[
        bool, typer.Option("--pretokenize", help="raw: keep tokens inside word boundaries.")
    ] = False,
    seed: int = 42,
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 mixed precision (GPU).")] = False,
    fp16: Annotated[bool, typer.Option("--fp16", help="float16 mixed precision (GPU).")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last saved checkpoint.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output directory.")
    ] = False,
    early_stopping_patience: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many epochs without a better F1.")
    ] = None,
    keep_checkpoints: Annotated[
        bool, typer.Option("--keep-checkpoints", help="Keep the per-epoch checkpoints.")
    ] = False,
    group_by_length: Annotated[
        bool,
        typer.Option(
            "--group-by-length", help="Batch inputs of similar length (less padding, faster)."
        ),
    ] = False,
    negative_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of non-entity spans to train on (1: all; lower is faster).",
        ),
    ] = 1.0,
    logging_steps: Annotated[int, typer.Option(min=1)] = 50,
    no_space: opt.NoSpace = False,
) -> None:
    from lukener.training import TrainOptions
    from lukener.training import train as run_training

    result = run_training(
        TrainOptions(
            train=train,
            model=model,
            output_dir=output_dir,
            validation=validation,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            warmup_ratio=warmup_ratio,
            gradient_accumulation_steps=gradient_accumulation_steps,
            max_entity_length=max_entity_length,
            max_mention_length=max_mention_length,
            tokenization=tokenization,
            pretokenize=pretokenize,
            seed=seed,
            bf16=bf16,
            fp16=fp16,
            resume=resume,
            overwrite=overwrite,
            early_stopping_patience=early_stopping_patience,
            keep_checkpoints=keep_checkpoints,
            group_by_length=group_by_length,
            negative_rate=negative_rate,
            logging_steps=logging_steps,
            no_space=no_space,
        )
    )
    if not result.main_process:
        return
    if result.metrics is not None:
        console.print(metrics_table(result.metrics, f"best checkpoint on {validation}"))
    if result.validation_stats is not None:
        for note in encoding_notes(result.validation_stats):
            console.print(f"note (validation): {note}")
    if result.labels_without_training_data:
        console.print(
            "note: only the validation data has "
            + ", ".join(result.labels_without_training_data)
            + "; the model never saw them in training"
        )
    for note in encoding_notes(result.train_stats):
        console.print(f"note (training): {note}")
    console.print(
        f"{result.global_steps} steps in {result.train_seconds:.1f} s "
        f"({result.steps_per_second:.2f} steps/s); checkpoint in {result.output_dir}"
    )
