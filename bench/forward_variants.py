"""What each forward variant earns end to end: predict sentences/s across model shapes,
each variant against the one before it (same pipeline, same batches; only the forward
differs), on one machine in one run.

    python -m bench.forward_variants --shapes minilm,base,large-width --tweets 64 --rounds 3

Variants, in order (fp32 on the CPU):

- ``transformers``: transformers' padded forward as it is, BLAS products;
- ``fused``: the same padded forward with lukener's fused attention (one SDPA call a layer);
- ``packed_widened``: the packed forward (products over real tokens only), attention by
  widened heads;
- ``packed_blockwise``: the packed forward, attention by its four blocks (lukener's default
  without gradients on a CPU);
- ``onednn``: the packed forward with oneDNN products (chosen by ``auto`` where it measures
  faster);
- ``int8``: dynamic int8 quantization (``--quantize int8``).

Rounds alternate between the variants and the best of each is kept.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.ablation import cpu_name
from bench.shapes import SHAPES, bench_inputs, command_line, shape_checkpoint
from lukener.data.documents import Document
from lukener.modeling import packed_inference
from lukener.modeling.loading import load_span_model
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from tests.tiny_models import build_luke_tokenizer

VARIANTS = ("transformers", "fused", "packed_widened", "packed_blockwise", "onednn", "int8")


class _Padded:
    """transformers' padded forward of a model (fused attention or not)."""

    def __init__(self, model: Any):
        self.model = model

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(**inputs).logits
        return logits


def variant_runs(checkpoint: Path, documents: list[Document]) -> dict[str, Callable[[], Any]]:
    blas = RunOptions(linear_products="blas")
    plain = load_span_model(str(checkpoint), device="cpu", fused_attention=False)
    fused = load_span_model(str(checkpoint), device="cpu")
    onednn = load_span_model(str(checkpoint), device="cpu")
    predictors = {
        "transformers": Predictor(plain, blas),
        "fused": Predictor(fused, blas),
        "packed_widened": Predictor(fused, blas),
        "packed_blockwise": Predictor(fused, blas),
        "onednn": Predictor(onednn, RunOptions(linear_products="onednn")),
        "int8": Predictor(fused, RunOptions(quantize="int8")),
    }
    predictors["transformers"].forward = _Padded(plain.model)
    predictors["fused"].forward = _Padded(fused.model)
    blockwise = packed_inference._blockwise

    def run(name: str) -> Any:
        if name == "packed_widened":
            packed_inference._blockwise = lambda *_: False  # type: ignore[assignment]
        try:
            return [
                [(e.start, e.end, e.label) for x in d.examples for e in x.entities]
                for d in predictors[name].predict(documents)
            ]
        finally:
            packed_inference._blockwise = blockwise  # type: ignore[assignment]

    return {name: (lambda name=name: run(name)) for name in VARIANTS}


def measure(checkpoint: Path, documents: list[Document], rounds: int) -> dict[str, Any]:
    runs = variant_runs(checkpoint, documents)
    outputs = {name: run() for name, run in runs.items()}  # warm-up, and the outputs
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    best = {name: min(times) for name, times in seconds.items()}
    sentences = sum(len(d.examples) for d in documents)
    row: dict[str, Any] = {f"{n}_sentences_per_second": sentences / s for n, s in best.items()}
    for before, after in zip(VARIANTS, VARIANTS[1:-1], strict=False):
        row[f"{after}_over_{before}"] = best[before] / best[after]
    row["int8_over_packed_blockwise"] = best["packed_blockwise"] / best["int8"]
    # Entities (spans and labels; scores differ in their last digits between exact paths).
    row["same_entities_as_transformers"] = [
        n for n in VARIANTS[1:] if outputs[n] == outputs["transformers"]
    ]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tweets", type=int, default=64)
    parser.add_argument("--conll-sentences", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("bench/results/forward-variants.json"))
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": f"{cpu_name()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
        "command": command_line("bench.forward_variants", args),
        "shapes": {},
    }
    with tempfile.TemporaryDirectory(prefix="lukener-variants-") as temporary:
        root = Path(temporary)
        _, tweets, conll, _ = bench_inputs(root, args, train_tweets=1)
        tokenizer = build_luke_tokenizer(lite=False)
        for name in args.shapes.split(","):
            checkpoint = shape_checkpoint(root / name, tokenizer, SHAPES[name])
            row = {"tweets": measure(checkpoint, tweets, args.rounds)}
            if conll:
                row["conll_in_context"] = measure(checkpoint, conll, args.rounds)
            results["shapes"][name] = row
            print(name, json.dumps(row), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
