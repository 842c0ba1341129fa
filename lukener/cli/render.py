"""Shared rendering for the commands: the console, one-line errors, tables."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lukener.errors import LukenerError
from lukener.spans.encoded import EncodingStats
from lukener.spans.metrics import Metrics

console = Console(stderr=True, highlight=False)
P = ParamSpec("P")
R = TypeVar("R")
DEBUG_VARIABLE = "LUKENER_DEBUG"


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` as one line on stderr; return the exit to raise."""
    one_line = " ".join(message.split())
    sys.stderr.write(f"error: {one_line}\n")
    sys.stderr.flush()
    return typer.Exit(1)


def reports_user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`LukenerError` into one line on stderr and exit code 1.

    Set ``LUKENER_DEBUG=1`` to get the traceback instead.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except LukenerError as error:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            raise fail(str(error)) from None
        except OSError as error:
            # The file system said no (disk full, permissions, a path that is a file).
            if os.environ.get(DEBUG_VARIABLE):
                raise
            where = f"{error.filename}: " if error.filename else ""
            raise fail(where + (error.strerror or str(error))) from None

    return wrapper


def metrics_table(metrics: Metrics, title: str) -> Table:
    """Per-type and micro/macro scores with their counts."""
    table = Table(title=title)
    for column in ("type", "precision", "recall", "f1", "gold", "predicted", "correct"):
        table.add_column(column, justify="left" if column == "type" else "right")
    for label, score in metrics.per_type.items():
        counts = metrics.per_type_counts.get(label, {})
        table.add_row(
            label,
            percent(score.precision),
            percent(score.recall),
            percent(score.f1),
            str(counts.get("gold", "")),
            str(counts.get("predicted", "")),
            str(counts.get("correct", "")),
        )
    table.add_section()
    micro = metrics.micro
    table.add_row(
        "micro",
        percent(micro.precision),
        percent(micro.recall),
        percent(micro.f1),
        str(metrics.gold),
        str(metrics.predicted),
        str(metrics.correct),
        style="bold",
    )
    table.add_row("macro", "", "", percent(metrics.macro_f1), "", "", "")
    return table


def percent(value: float) -> str:
    return f"{100 * value:.2f}"


def encoding_notes(stats: EncodingStats) -> list[str]:
    """What could not be encoded, said plainly (it still counts against recall)."""
    notes = []
    if stats.unencodable:
        notes.append(
            f"{len(stats.unencodable)} of {stats.gold_entities} gold entities cannot be encoded "
            "(longer than --max-mention-length subwords, off token boundaries or "
            "duplicated); they count as misses"
        )
    if stats.windowed_sentences:
        notes.append(
            f"{stats.windowed_sentences} sentences are longer than the model's maximum length: "
            "each was tagged in overlapping windows (every span scored once)"
        )
    return notes


def with_progress(description: str, work: Callable[[Callable[[int], None]], R]) -> R:
    """Run ``work(advance)`` under a progress bar of sentences, with transformers quiet."""
    quiet_transformers()
    with progress_bar() as progress:
        task = progress.add_task(description, total=None)
        return work(lambda n: progress.advance(task, n))


def print_notes(stats: EncodingStats, prefix: str = "note", more: Sequence[str] = ()) -> None:
    """What loading decided (``more``) and what encoding could not represent, one per line."""
    for note in [*more, *encoding_notes(stats)]:
        console.print(f"{prefix}: {note}", markup=False)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sentences"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def quiet_transformers() -> None:
    """Keep transformers' own logs and weight-loading bars out of a command's output."""
    from transformers.utils import logging

    logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    # The hub client logs every retry of an unreachable server; the final error says enough.
    import huggingface_hub.utils.logging as hub_logging

    hub_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def threshold_table(by_threshold: dict[float, Metrics]) -> Table:
    """Micro P/R/F1 at each threshold, the best F1 marked."""
    table = Table(title="by threshold (candidates below it dropped)")
    for column in ("threshold", "precision", "recall", "F1", "predicted"):
        table.add_column(column, justify="right")
    best = max(by_threshold, key=lambda t: by_threshold[t].micro.f1)
    for threshold, metrics in sorted(by_threshold.items()):
        micro = metrics.micro
        mark = " *" if threshold == best else ""
        table.add_row(
            f"{threshold:g}{mark}",
            f"{100 * micro.precision:.2f}",
            f"{100 * micro.recall:.2f}",
            f"{100 * micro.f1:.2f}",
            f"{metrics.predicted:,}",
        )
    return table
