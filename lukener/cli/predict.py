"""`lukener predict`: tag JSONL, CoNLL or raw text with a checkpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from . import options as opt
from .render import (
    console,
    encoding_notes,
    progress_bar,
    quiet_transformers,
    reports_user_errors,
)

HELP = """Tag documents with a checkpoint; each entity gets its probability as `score`.

INPUT is JSONL, CoNLL or raw text (`-` reads text from standard input). In raw text a
blank line separates documents, and sentences and words are segmented for English-like
text and for text without spaces (Japanese, Chinese). The output is written as it goes.

Examples:

  lukener predict --checkpoint runs/wnut data/wnut16/test.jsonl --output tagged.jsonl

  echo "Peter Blackburn flew to Berlin." | lukener predict --checkpoint runs/wnut -

  lukener predict --checkpoint runs/ja article.txt --language ja --output-format conll
"""


@reports_user_errors
def predict_command(
    source: Annotated[str, typer.Argument(metavar="INPUT", help="JSONL, CoNLL, text, or -.")],
    checkpoint: Annotated[str, typer.Option(help="Checkpoint directory or hub id.")],
    output: Annotated[
        str | None, typer.Option(help="File to write (default: standard output).")
    ] = None,
    output_format: Annotated[str, typer.Option(help="jsonl or conll.")] = "jsonl",
    input_format: Annotated[str, typer.Option(help="auto, jsonl, conll or text.")] = "auto",
    language: Annotated[
        str, typer.Option(help="Raw text: auto, en, ja or zh (ja/zh: no spaces between words).")
    ] = "auto",
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
    from lukener.prediction import predict

    quiet_transformers()
    with progress_bar() as progress:
        task = progress.add_task("tagging", total=None)
        summary = predict(
            checkpoint,
            source,
            output,
            output_format=output_format,
            input_format=input_format,
            language=language,
            overrides=opt.overrides(entity_attention_mask, max_entity_length, max_mention_length),
            run=opt.run_options(
                batch_size, max_batch_tokens, nested, precision, compile_model, max_padding
            ),
            device=device,
            conll_options=ConllOptions(no_space=no_space),
            progress=lambda n: progress.advance(task, n),
        )
    console.print(
        f"tagged {summary.documents:,} documents, {summary.sentences:,} sentences "
        f"({summary.input_format}): {summary.entities:,} entities in {summary.seconds:.1f} s "
        f"({summary.sentences / max(summary.seconds, 1e-9):,.1f} sentences/s)"
        + ("" if output in (None, "-") else f" -> {output}")
    )
    for note in encoding_notes(summary.stats):
        console.print(f"note: {note}")
