"""`lukener compare`: a benchmark table across checkpoints, published scores beside."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lukener.errors import LukenerError

from . import options as opt
from .render import console, percent, progress_bar, quiet_transformers, reports_user_errors

if TYPE_CHECKING:
    from lukener.comparison import RowResult

HELP = """Evaluate checkpoints side by side on one test set, like a paper's results table.

Rows come from a benchmark spec (TOML), from --checkpoint options, or both. Every number
equals `lukener evaluate` with the same settings. A row that fails is shown with its
reason and the others still run; the exit code is 1 if any row failed.

Examples:

  lukener compare benchmarks/conll2003-en.toml --data eng.testb --markdown table.md

  lukener compare --data test.jsonl --checkpoint runs/a --checkpoint runs/a:legacy \\
      --checkpoint runs/b --json compare.json
"""


@reports_user_errors
def compare_command(
    spec: Annotated[
        Path | None,
        typer.Argument(help="Benchmark spec (TOML), e.g. benchmarks/conll2003-en.toml."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Test documents (JSONL or CoNLL); overrides the spec's.")
    ] = None,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(help="Extra row: CKPT, CKPT:legacy or CKPT:standard. Repeatable."),
    ] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the table as Markdown.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write every row with its settings as JSON.")
    ] = None,
    batch_size: opt.BatchSize = 32,
    max_batch_tokens: opt.MaxBatchTokens = None,
    precision: opt.Precision = "fp32",
    device: opt.Device = None,
    no_space: opt.NoSpace = False,
) -> None:
    from lukener.benchmark_spec import checkpoint_row, load_spec
    from lukener.comparison import compare, write_outputs
    from lukener.convert import ConllOptions

    rows = []
    title = "lukener compare"
    spec_data = None
    if spec is not None:
        loaded = load_spec(spec)
        rows.extend(loaded.rows)
        title, spec_data = loaded.name, loaded.data
    rows.extend(checkpoint_row(option) for option in checkpoint or [])
    if not rows:
        raise LukenerError("nothing to compare: give a spec or --checkpoint options")
    test_data = data or (Path(spec_data) if spec_data else None)
    if test_data is None:
        raise LukenerError("no test data: pass --data FILE (CoNLL-2003 is not redistributable)")

    quiet_transformers()

    def report(item: RowResult) -> None:
        if item.failed:
            console.print(f"[red]failed[/red] {item.row.name}: {item.error}")
        elif item.f1 is not None:
            console.print(f"done {item.row.name}: F1 {percent(item.f1)}")

    with progress_bar() as progress:
        task = progress.add_task("evaluating", total=None)
        results = compare(
            rows,
            test_data,
            run=opt.run_options(batch_size, max_batch_tokens, False, precision, False),
            device=device,
            conll_options=ConllOptions(no_space=no_space),
            on_row=report,
            progress=lambda n: progress.advance(task, n),
        )
    console.print(results_table(results, f"{title} on {test_data}"))
    write_outputs(results, title, markdown, json_path)
    if any(item.failed for item in results):
        raise typer.Exit(1)


def results_table(results: list[RowResult], title: str) -> Table:
    table = Table(title=title)
    for column in ("row", "evaluated with", "P", "R", "F1", "published F1", "difference"):
        table.add_column(column, justify="left" if column in ("row", "evaluated with") else "right")
    for item in results:
        style = "red" if item.failed else None
        table.add_row(item.row.name, item.row.evaluated_with, *item.cells(), style=style)
    return table
