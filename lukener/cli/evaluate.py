"""`lukener evaluate`: exact-span scores of a checkpoint against gold documents."""

from __future__ import annotations

from typing import Annotated

from lukener.data.reading_options import ReadingOptions
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.command_options import EvaluateOptions
from lukener.tasks.run_options import RunOptions

from .flags import Fields, expand_options
from .render import (
    console,
    metrics_table,
    print_notes,
    reports_user_errors,
    threshold_table,
    with_progress,
)

HELP = """Score a checkpoint on gold data: exact-span precision, recall and F1 per type.

Scores are computed against the original gold entities, so entities that cannot be
encoded (too long, off token boundaries) count as misses.

Examples:

  lukener evaluate --checkpoint runs/wnut --data data/wnut16/test.jsonl

  lukener evaluate --checkpoint studio-ousia/luke-large-finetuned-conll-2003 --data eng.testb

  lukener evaluate --checkpoint runs/wnut --data dev.jsonl --thresholds 0.3,0.5,0.7

  lukener evaluate --checkpoint runs/ner --data eng.testb --label-map MISC=-

  lukener evaluate --checkpoint studio-ousia/mluke-large-lite-finetuned-conll-2003 \\
      --data eng.testb --entity-attention-mask legacy --output metrics.json
"""


@reports_user_errors
@expand_options
def evaluate_command(
    options: EvaluateOptions,
    overrides: EncodingOverrides,
    run: RunOptions,
    conll: Annotated[ReadingOptions, Fields("no_space", "label_map")],
) -> None:
    from lukener.tasks.evaluation import evaluate_checkpoint

    result = with_progress(
        "evaluating", lambda advance: evaluate_checkpoint(options, overrides, run, conll, advance)
    )
    console.print(metrics_table(result.metrics, f"{options.checkpoint} on {options.data}"))
    if result.by_threshold:
        console.print(threshold_table(result.by_threshold))
    print_notes(result.stats, more=result.notes)
    console.print(f"forward: {result.forward}", markup=False)
    if options.output is not None:
        console.print(f"metrics written to {options.output}")
