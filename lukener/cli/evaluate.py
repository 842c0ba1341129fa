"""`lukener evaluate`: exact-span scores of a checkpoint against gold documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lukener.atomic_write import atomic_text_writer

from . import options as opt
from .render import (
    console,
    encoding_notes,
    metrics_table,
    progress_bar,
    quiet_transformers,
    reports_user_errors,
)

HELP = """Score a checkpoint on gold data: exact-span precision, recall and F1 per type.

Scores are computed against the original gold entities, so entities that cannot be
encoded (too long, off token boundaries) count as misses.

Examples:

  lukener evaluate --checkpoint runs/wnut --data data/wnut16/test.jsonl

  lukener evaluate --checkpoint studio-ousia/luke-large-finetuned-conll-2003 --data eng.testb

  lukener evaluate --checkpoint studio-ousia/mluke-large-lite-finetuned-conll-2003 \\
      --data eng.testb --entity-attention-mask legacy --output metrics.json
"""


@reports_user_errors
def evaluate_command(
    checkpoint: Annotated[str, typer.Option(help="Checkpoint directory or hub id.")],
    data: Annotated[Path, typer.Option(help="Gold documents: JSONL or CoNLL.")],
    output: Annotated[
        Path | None, typer.Option(help="Write micro, macro, per_type and counts as JSON.")
    ] = None,
    entity_attention_mask: opt.EntityAttentionMask = None,
    max_entity_length: opt.MaxEntityLength = None,
    max_mention_length: opt.MaxMentionLength = None,
    batch_size: opt.BatchSize = 32,
    max_batch_tokens: opt.MaxBatchTokens = None,
    max_padding: opt.MaxPadding = None,
    precision: opt.Precision = "fp32",
    compile_model: opt.Compile = False,
    nested: opt.Nested = False,
    device: opt.Device = None,
    no_space: opt.NoSpace = False,
) -> None:
    from lukener.convert import ConllOptions
    from lukener.evaluation import evaluate_checkpoint

    quiet_transformers()
    with progress_bar() as progress:
        task = progress.add_task("evaluating", total=None)
        result = evaluate_checkpoint(
            checkpoint,
            data,
            overrides=opt.overrides(entity_attention_mask, max_entity_length, max_mention_length),
            run=opt.run_options(
                batch_size, max_batch_tokens, nested, precision, compile_model, max_padding
            ),
            conll_options=ConllOptions(no_space=no_space),
            device=device,
            progress=lambda n: progress.advance(task, n),
        )
    console.print(metrics_table(result.metrics, f"{checkpoint} on {data}"))
    for note in encoding_notes(result.stats):
        console.print(f"note: {note}")
    if output is not None:
        with atomic_text_writer(output) as stream:
            stream.write(json.dumps(result.metrics.to_json(), indent=2) + "\n")
        console.print(f"metrics written to {output}")
