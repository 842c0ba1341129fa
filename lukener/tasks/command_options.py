"""Each command's own options: what it reads and writes (see ``lukener.declared_options``).

The options commands share are groups of their own: how gold input is read
(``lukener.data.reading_options``), encoding overrides (``lukener.spans.settings``), how a
model runs (``lukener.tasks.run_options``) and training's groups
(``lukener.tasks.train_options``). Light on purpose: no torch, no transformers, so the
command line builds its flags without loading a model library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from lukener.declared_options import Option

InputFormat = Literal["auto", "jsonl", "conll", "text"]
OutputFormat = Literal["jsonl", "conll"]
TextLanguage = Literal["auto", "en", "ja", "zh"]


@dataclass(frozen=True)
class EvaluateOptions:
    """``lukener evaluate``: which checkpoint, on which gold, and where the scores go."""

    checkpoint: Annotated[str, Option("Checkpoint directory or hub id.")]
    data: Annotated[Path, Option("Gold documents: JSONL or CoNLL.")]
    output: Annotated[Path | None, Option("Write micro, macro, per_type and counts as JSON.")] = (
        None
    )
    thresholds: Annotated[
        str | None,
        Option(
            "Also score at each of these thresholds (0.3,0.5,0.7), from one prediction run, "
            "to pick --threshold on validation data.",
        ),
    ] = None


@dataclass(frozen=True)
class PredictOptions:
    """``lukener predict``: what to tag, with which checkpoint, and where it goes."""

    source: Annotated[str, Option("JSONL, CoNLL, text, or -.", argument=True, metavar="INPUT")]
    checkpoint: Annotated[str, Option("Checkpoint directory or hub id.")]
    output: Annotated[str | None, Option("File to write (default: standard output).")] = None
    output_format: Annotated[OutputFormat, Option("What --output holds.")] = "jsonl"
    input_format: Annotated[InputFormat, Option("What INPUT holds; auto: by its content.")] = "auto"
    language: Annotated[
        TextLanguage, Option("Raw text's language (ja/zh: no spaces between words).")
    ] = "auto"


@dataclass(frozen=True)
class CompareOptions:
    """``lukener compare``: the rows (a spec and/or checkpoints), the data, the outputs."""

    spec: Annotated[
        Path | None,
        Option(
            "Benchmark spec (TOML), e.g. reproduce/conll2003-en.toml.",
            argument=True,
            metavar="SPEC",
        ),
    ] = None
    data: Annotated[
        Path | None, Option("Test documents (JSONL or CoNLL); overrides the spec's.")
    ] = None
    checkpoint: Annotated[
        list[str] | None,
        Option("Extra row: CKPT, CKPT:legacy or CKPT:standard. Repeatable."),
    ] = None
    markdown: Annotated[Path | None, Option("Write the table as Markdown.")] = None
    json_path: Annotated[
        Path | None, Option("Write every row with its settings as JSON.", flags=("--json",))
    ] = None


# The demo's training recipe: ``lukener train``'s options with the demo's values (the rest
# keep train's defaults). ``lukener demo`` shows the first six as its own flags.
DEMO_TRAINING: dict[str, Any] = {
    "epochs": 3.0,
    # The encoder rate the span model (inside span attention, gradients clipped to 1.0)
    # picked on WNUT-16 validation from 1e-4..4e-4 (bench/results/accuracy.md).
    "learning_rate": 2e-4,
    # The new classifier learns at its own, higher rate (bench/results/ablation.md).
    "head_learning_rate": 1e-2,
    "batch_size": 16,
    # A quarter of the non-entity spans is enough to learn from, and keeps the run short.
    "negative_rate": 0.25,
    "seed": 42,
    # Spans of up to 8 subwords cover all but a few WNUT-16 entities (those count as misses).
    "max_mention_length": 8,
    "warmup_ratio": 0.1,
    "group_by_length": True,
    "logging_steps": 25,
    "overwrite": True,
}
DEMO_FLAGS = (
    "epochs",
    "learning_rate",
    "head_learning_rate",
    "batch_size",
    "negative_rate",
    "seed",
)


@dataclass(frozen=True)
class DemoOptions:
    """Where the demo works; its training options are ``lukener train``'s (:data:`DEMO_TRAINING`)."""

    PANEL: ClassVar[str] = "Demo"

    output_dir: Annotated[Path, Option("Where the demo's model (OUTPUT_DIR/model) is written.")] = (
        Path("runs/demo")
    )
    data_dir: Annotated[Path, Option("Where the WNUT-16 splits go.")] = Path("data")
    max_train_documents: Annotated[
        int | None, Option("Train on the first N tweets only (quicker).", min=1)
    ] = None
