"""`lukener train`: fine-tune a LUKE or mLUKE span model with the Hugging Face Trainer."""

from __future__ import annotations

from typing import Annotated

from lukener.data.reading_options import ReadingOptions
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.run_options import RunOptions
from lukener.tasks.train_options import (
    TRAIN_FIELDS,
    ModelCardOptions,
    Optimization,
    TrainData,
    TrainEncoding,
    TrainOptions,
    TrainOutput,
    TrainSpeed,
)

from .flags import Fields, expand_options
from .render import console, metrics_table, print_notes, reports_user_errors

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


def _names(group: str) -> tuple[str, ...]:
    return TRAIN_FIELDS[group][0]


def _panel(group: str) -> str:
    return TRAIN_FIELDS[group][1]


@reports_user_errors
@expand_options
def train_command(
    data: TrainData,
    reading: Annotated[ReadingOptions, Fields(*_names("reading"), panel=_panel("reading"))],
    encoding: TrainEncoding,
    overrides: Annotated[
        EncodingOverrides,
        Fields(*_names("encoding_overrides"), panel=_panel("encoding_overrides")),
    ],
    optimization: Optimization,
    speed: TrainSpeed,
    run: Annotated[RunOptions, Fields(*_names("run"), panel=_panel("run"))],
    output: TrainOutput,
    card: ModelCardOptions,
) -> None:
    from lukener.tasks.training import train

    options = TrainOptions(
        data, output, reading, encoding, overrides, optimization, speed, run, card
    )
    result = train(options)
    if not result.main_process:
        return
    if result.metrics is not None:
        console.print(metrics_table(result.metrics, f"best checkpoint on {data.validation}"))
    if result.validation_stats is not None:
        print_notes(result.validation_stats, "note (validation)")
    if result.labels_without_training_data:
        console.print(
            "note: only the validation data has "
            + ", ".join(result.labels_without_training_data)
            + "; the model never saw them in training"
        )
    print_notes(result.train_stats, "note (training)", more=result.notes)
    console.print(
        f"{result.global_steps} steps in {result.train_seconds:.1f} s "
        f"({result.steps_per_second:.2f} steps/s); checkpoint in {result.output_dir}"
    )
