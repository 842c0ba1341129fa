"""What each forward variant earns end to end: predict sentences/s across model shapes,
each variant against the one before it (same pipeline, same batches; only the forward
differs), on one machine in one run.

    python -m bench.speed.forward_variants --shapes minilm,base,large-width --tweets 64 --rounds 3

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
import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.machine import command_line, cpu_name_and_vectors
from bench.speed.shapes import SHAPES, bench_inputs, shape_checkpoint
from lukener.data.documents import Document
from lukener.modeling import packed_inference
from lukener.modeling.forward_choice import PaddedSpanClassifier
from lukener.modeling.loading import load_span_model
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from tests.tiny_models import build_luke_tokenizer

VARIANTS = ("transformers", "fused", "packed_widened", "packed_blockwise", "onednn", "int8")


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
    predictors["transformers"].forward = PaddedSpanClassifier(plain.model)
    predictors["fused"].forward = PaddedSpanClassifier(fused.model)
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
    for before, after in itertools.pairwise(VARIANTS[:-1]):  # int8: below
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
    parser.add_argument("--tweets", type=int, default=32)
    parser.add_argument("--conll-sentences", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", type=Path, default=Path("bench/results/forward-variants.json"))
    parser.add_argument("--markdown", type=Path, default=Path("bench/results/forward-variants.md"))
    parser.add_argument(
        "--tables-only", action="store_true", help="write the table from --output's JSON"
    )
    args = parser.parse_args()
    if args.tables_only:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        args.markdown.write_text(variants_markdown(results), encoding="utf-8")
        return
    results: dict[str, Any] = {
        "machine": f"{cpu_name_and_vectors()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
        "command": command_line("bench.speed.forward_variants", args),
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
    args.markdown.write_text(variants_markdown(results), encoding="utf-8")


COLUMNS = {
    "fused_over_transformers": "fused attention, padded, over transformers'",
    "packed_widened_over_fused": "packed (widened heads) over padded fused",
    "packed_blockwise_over_packed_widened": "block-wise attention over widened heads",
    "onednn_over_packed_blockwise": "oneDNN products over BLAS",
    "int8_over_packed_blockwise": "int8 over fp32",
}
INPUTS = {"tweets": "WNUT-16 tweets", "conll_in_context": "CoNLL-2003 in context"}


def variants_markdown(results: dict[str, Any]) -> str:
    """The table of each variant's gain over the one before it."""
    lines = [
        "# Forward variants: what each earns end to end",
        "",
        (
            f"{results['machine']}; `{results['command']}`. Predict sentences/s of each "
            "variant over the one before it (the same pipeline and batches; only the forward "
            "differs); best of the rounds, the variants alternating."
        ),
        "",
        "| shape | input | " + " | ".join(COLUMNS.values()) + " |",
        "| --- | --- |" + " ---: |" * len(COLUMNS),
    ]
    for shape, row in results["shapes"].items():
        for part, name in INPUTS.items():
            if part in row:
                cells = " | ".join(f"{row[part][key]:.2f}x" for key in COLUMNS)
                lines.append(f"| {shape} | {name} | {cells} |")
    exact = {
        f"{shape} {part}": row[part]["same_entities_as_transformers"]
        for shape, row in results["shapes"].items()
        for part in row
    }
    agree = sorted(set.intersection(*(set(names) for names in exact.values())))
    lines += [
        "",
        "Variants whose entities (spans and labels) equal transformers' on every input: "
        + ", ".join(agree)
        + " (int8 is not exact).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
