"""`lukener compare`: evaluate benchmark rows side by side, each checkpoint loaded once."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from lukener.data.documents import Document
from lukener.data.reading_options import ReadingOptions
from lukener.data.sources import read_documents
from lukener.errors import LukenerError
from lukener.files.atomic_write import atomic_text_writer
from lukener.files.output_paths import check_output_file
from lukener.modeling.checkpoints import first_line
from lukener.modeling.loading import load_span_model
from lukener.tasks.benchmark_spec import BenchmarkRow, checkpoint_row, load_spec
from lukener.tasks.command_options import CompareOptions
from lukener.tasks.evaluation import EvaluationResult, check_labels, evaluate_documents
from lukener.tasks.run_options import RunOptions


@dataclass
class RowResult:
    row: BenchmarkRow
    result: EvaluationResult | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def f1(self) -> float | None:
        return None if self.result is None else self.result.metrics.micro.f1

    def difference(self) -> float | None:
        """F1 minus the published F1, in points."""
        if self.f1 is None or self.row.published is None:
            return None
        return 100 * self.f1 - self.row.published.f1

    def cells(self) -> list[str]:
        """P, R, F1 (percent), published F1 and the difference, as table cells."""
        if self.result is not None:
            micro = self.result.metrics.micro
            scores = [_pct(micro.precision), _pct(micro.recall), _pct(micro.f1)]
        elif self.row.is_reference:
            scores = ["-", "-", "-"]
        else:
            scores = ["failed", "", ""]
        published, difference = self.row.published, self.difference()
        return [
            *scores,
            "-" if published is None else f"{published.f1:.2f}",
            "-" if difference is None else f"{difference:+.2f}",
        ]

    def to_json(self) -> dict[str, Any]:
        row = self.row
        metrics = None if self.result is None else self.result.metrics
        published = row.published
        return {
            "name": row.name,
            "checkpoint": row.checkpoint,
            "evaluated_with": row.evaluated_with,
            "settings": (
                None
                if self.result is None
                else {**self.result.settings.to_json(), "decoding": row.decoding}
            ),
            "requested_settings": row.settings_json(),
            "precision": None if metrics is None else metrics.micro.precision,
            "recall": None if metrics is None else metrics.micro.recall,
            "f1": None if metrics is None else metrics.micro.f1,
            "metrics": None if metrics is None else metrics.to_json(),
            "published": None if published is None else published.__dict__,
            "difference": self.difference(),
            "error": self.error,
            "reference": row.is_reference,
        }


@dataclass(frozen=True)
class ComparisonPlan:
    """The rows to evaluate, the table's title and the test data, from a spec and options."""

    rows: list[BenchmarkRow]
    title: str
    data: Path


def plan_comparison(options: CompareOptions) -> ComparisonPlan:
    """Rows from the spec (if any) then from ``--checkpoint``; the data from ``--data`` or
    else the spec's."""
    rows: list[BenchmarkRow] = []
    title = "lukener compare"
    spec_data = None
    if options.spec is not None:
        loaded = load_spec(options.spec)
        rows.extend(loaded.rows)
        title, spec_data = loaded.name, loaded.data
    rows.extend(checkpoint_row(option) for option in options.checkpoint or [])
    if not rows:
        raise LukenerError("nothing to compare: give a spec or --checkpoint options")
    data = options.data or (Path(spec_data) if spec_data else None)
    if data is None:
        raise LukenerError("no test data: pass --data FILE (CoNLL-2003 is not redistributable)")
    # Every row's checkpoint is an input too.
    inputs = [data, options.spec, *(row.checkpoint for row in rows)]
    check_output_file(options.markdown, inputs, "--markdown")
    check_output_file(options.json_path, [*inputs, options.markdown], "--json")
    return ComparisonPlan(rows, title, data)


def compare(
    rows: Sequence[BenchmarkRow],
    data: Path,
    run: RunOptions = RunOptions(),
    conll: ReadingOptions = ReadingOptions(),
    on_row: Callable[[RowResult], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RowResult]:
    """Evaluate every row with a checkpoint on ``data``, loading each checkpoint once.

    A row that fails (no such checkpoint, no network, out of memory, unknown labels) gets
    its reason and the other rows still run. Rows with identical settings on one
    checkpoint are evaluated once.
    """
    documents = read_documents(data, conll)
    results = {id(row): RowResult(row) for row in rows}
    by_checkpoint: dict[str, list[BenchmarkRow]] = {}
    for row in rows:
        if row.checkpoint is not None:
            by_checkpoint.setdefault(row.checkpoint, []).append(row)
    for checkpoint, checkpoint_rows in by_checkpoint.items():
        _evaluate_checkpoint(
            checkpoint,
            checkpoint_rows,
            documents,
            data,
            run,
            results,
            progress,
        )
        for row in checkpoint_rows:
            if on_row is not None:
                on_row(results[id(row)])
    return [results[id(row)] for row in rows]


def _evaluate_checkpoint(
    checkpoint: str,
    rows: list[BenchmarkRow],
    documents: list[Document],
    data: Path,
    run: RunOptions,
    results: dict[int, RowResult],
    progress: Callable[[int], None] | None,
) -> None:
    recipe = rows[0].recipe_command()
    try:
        if recipe is not None and not Path(checkpoint).is_dir():
            # A recipe's checkpoint is a local directory, never a hub id.
            raise LukenerError(f"no such checkpoint directory; make it with: {recipe}", checkpoint)
        span_model = load_span_model(checkpoint, device=run.device)
        check_labels(documents, span_model.labels, data)
    except (LukenerError, OSError, RuntimeError) as error:
        for row in rows:
            results[id(row)].error = _reason(error)
        return
    done: dict[tuple[Any, ...], EvaluationResult] = {}
    for row in rows:
        try:
            settings = span_model.settings.with_overrides(**row.overrides())
            key = (*settings.to_json().values(), row.decoding)
            if key not in done:
                done[key] = evaluate_documents(
                    span_model,
                    documents,
                    settings,
                    run=replace(run, nested=row.decoding == "nested"),
                    progress=progress,
                )
            results[id(row)].result = done[key]
        except (LukenerError, OSError, RuntimeError) as error:
            results[id(row)].error = _reason(error)
    del span_model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _reason(error: BaseException) -> str:
    if isinstance(error, torch.cuda.OutOfMemoryError):
        return "out of memory: " + first_line(error)
    return str(error) if isinstance(error, LukenerError) else first_line(error)


def to_markdown(results: Sequence[RowResult], title: str) -> str:
    """A README-ready table: model, evaluation, P, R, F1, published F1, difference."""
    lines = [
        f"### {title}",
        "",
        "| Model | Evaluated with | P | R | F1 | Published F1 | Difference |",
        "| --- | --- | :---: | :---: | :---: | :---: | :---: |",
    ]
    for item in results:
        cells = [item.row.name, item.row.evaluated_with, *item.cells()]
        lines.append("| " + " | ".join(cells) + " |")
    failed = [item for item in results if item.failed]
    if failed:
        lines.append("")
        lines.extend(f"- {item.row.name} failed: {item.error}" for item in failed)
    return "\n".join(lines) + "\n"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def write_outputs(
    results: Sequence[RowResult], title: str, markdown: Path | None, json_path: Path | None
) -> None:
    if markdown is not None:
        with atomic_text_writer(markdown) as stream:
            stream.write(to_markdown(results, title))
    if json_path is not None:
        with atomic_text_writer(json_path) as stream:
            payload = {"benchmark": title, "rows": [item.to_json() for item in results]}
            stream.write(json.dumps(payload, indent=2) + "\n")
