"""`lukener predict`: tag JSONL, CoNLL or raw text with a checkpoint."""

from __future__ import annotations

from typing import Annotated

from lukener.data.reading_options import ReadingOptions
from lukener.spans.settings import EncodingOverrides
from lukener.tasks.command_options import PredictOptions
from lukener.tasks.run_options import RunOptions

from .flags import Fields, expand_options
from .render import console, print_notes, reports_user_errors, with_progress

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
@expand_options
def predict_command(
    options: PredictOptions,
    overrides: EncodingOverrides,
    run: RunOptions,
    conll: Annotated[ReadingOptions, Fields("no_space")],
) -> None:
    from lukener.tasks.prediction import predict

    summary = with_progress(
        "tagging", lambda advance: predict(options, overrides, run, conll, advance)
    )
    console.print(
        f"tagged {summary.documents:,} documents, {summary.sentences:,} sentences "
        f"({summary.input_format}): {summary.entities:,} entities in {summary.seconds:.1f} s "
        f"({summary.sentences / max(summary.seconds, 1e-9):,.1f} sentences/s)"
        + ("" if options.output in (None, "-") else f" -> {options.output}")
    )
    print_notes(summary.stats, more=summary.notes)
    console.print(f"forward: {summary.forward}", markup=False)
