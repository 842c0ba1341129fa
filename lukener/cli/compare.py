"""`lukener compare`: a benchmark table across checkpoints, published scores beside."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lukener.data.reading_options import ReadingOptions
from lukener.tasks.command_options import CompareOptions
from lukener.tasks.run_options import RunOptions

from .flags import Fields, expand_options
from .render import console, percent, reports_user_errors, with_progress

if TYPE_CHECKING:
    from lukener.tasks.comparison import RowResult

HELP = """Evaluate checkpoints side by side on one test set, like a paper's results table.

Rows come from a benchmark spec (TOML), from --checkpoint options, or both. Every number
equals `lukener evaluate` with the same settings. A row that fails is shown with its
reason and the others still run; the exit code is 1 if any row failed.

Examples:

  lukener compare reproduce/conll2003-en.toml --data eng.testb --markdown table.md

  lukener compare --data test.jsonl --checkpoint runs/a --checkpoint runs/a:legacy \\
      --checkpoint runs/b --json compare.json
"""


@reports_user_errors
@expand_options
def compare_command(
    options: CompareOptions,
    # Decoding is each row's own setting (nested or greedy).
    run: Annotated[
        RunOptions,
        Fields(
            "batch_size",
            "max_batch_tokens",
            "max_padding",
            "precision",
            "compile_model",
            "device",
            "threads",
            "quantize",
            "linear_products",
        ),
    ],
    conll: Annotated[ReadingOptions, Fields("no_space")],
) -> None:
    from lukener.tasks.comparison import compare, plan_comparison, write_outputs

    plan = plan_comparison(options)

    shown: set[str] = set()

    def report(item: RowResult) -> None:
        if item.failed:
            console.print(f"[red]failed[/red] {item.row.name}: {item.error}")
        elif item.f1 is not None:
            console.print(f"done {item.row.name}: F1 {percent(item.f1)}")
        for note in [] if item.result is None else item.result.notes:
            if note not in shown:
                shown.add(note)
                console.print(f"note: {note}", markup=False)

    results = with_progress(
        "evaluating",
        lambda advance: compare(plan.rows, plan.data, run, conll, on_row=report, progress=advance),
    )
    console.print(results_table(results, f"{plan.title} on {plan.data}"))
    write_outputs(results, plan.title, options.markdown, options.json_path)
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
