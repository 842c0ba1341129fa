"""`lukener convert`: CoNLL to document JSONL and back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from lukener.data.convert import ConversionSummary, no_space_for
from lukener.data.reading_options import ReadingOptions, Scheme
from lukener.data.schemes import normalize_scheme
from lukener.data.sources import convert
from lukener.errors import LukenerError

from .flags import expand_options
from .render import console, reports_user_errors

HELP = """Convert CoNLL column files to document JSONL, or JSONL back to CoNLL.

The direction follows INPUT: a `.jsonl` file becomes CoNLL (word and tag,
tab-separated), anything else is read as CoNLL and becomes JSONL.

Examples:

  lukener convert eng.train train.jsonl

  lukener convert ner.txt wnut.jsonl --sentences-per-document 10

  lukener convert iob_sents.txt ja.jsonl --language ja

  lukener convert train.jsonl train.bioes.conll --scheme bioes
"""


@reports_user_errors
@expand_options
def convert_command(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="CoNLL file, or a .jsonl file to write back.")
    ],
    output_path: Annotated[Path, typer.Argument(metavar="OUTPUT", help="File to write.")],
    conll: ReadingOptions,
    language: Annotated[
        str | None, typer.Option(help="Language of the text; ja and zh imply --no-space.")
    ] = None,
) -> None:
    scheme: str = conll.scheme
    if scheme != "auto":
        try:
            scheme = normalize_scheme(scheme)
        except ValueError as error:
            raise LukenerError(f"--scheme: {error}") from None
    options = replace(
        conll, scheme=cast(Scheme, scheme), no_space=no_space_for(language, conll.no_space)
    )
    summary = convert(
        input_path, output_path, options, output_scheme="iob2" if scheme == "auto" else scheme
    )
    console.print(summary_table(summary, input_path, output_path))


def summary_table(summary: ConversionSummary, input_path: Path, output_path: Path) -> Table:
    how = "detected" if summary.scheme_detected else "given"
    table = Table(title=f"{input_path} -> {output_path}", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("documents", f"{summary.documents:,}")
    table.add_row("sentences", f"{summary.sentences:,}")
    table.add_row("tokens", f"{summary.tokens:,}")
    for label, count in sorted(summary.entities.items()):
        table.add_row(f"entities: {label}", f"{count:,}")
    table.add_row("entities: all", f"{sum(summary.entities.values()):,}")
    verb = "written" if summary.target_format == "conll" else "read"
    table.add_row(f"scheme ({verb})", f"{summary.scheme.upper()} ({how})")
    repairs = f"{summary.repairs:,}"
    if summary.repair_lines:
        lines = ", ".join(str(line) for line in summary.repair_lines)
        more = ", ..." if summary.repairs > len(summary.repair_lines) else ""
        repairs += f" (lines {lines}{more})"
    table.add_row("ill-formed tags repaired", repairs)
    if summary.empty_documents:
        table.add_row("empty documents skipped", f"{summary.empty_documents:,}")
    return table
