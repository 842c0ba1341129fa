"""Speed on one GPU across the shapes of bench.speed.shapes (MiniLM-L6, LUKE-base, LUKE-large
width; random weights), in one run:

- predict, sentences/s, on WNUT-16 test tweets and on CoNLL-2003 test sentences in
  document context: ``Predictor`` in fp32 and under bf16 autocast with its default batches
  (on a GPU 256 chunks, 65536 tokens), bf16 with the CPU-sized batches that were the GPU
  default until round 8 (32 chunks, 16384 tokens) and bf16 with ``--compile``
  (``--compile-shapes``), against the plain path
  (transformers' forward, chunks of 64 spans, batches of 32 in file order, argmax) in fp32
  and under bf16 autocast;
- training steps/s in bf16: ``lukener train --packed-forward`` against ``--padded-forward``
  (transformers' forward in the same Trainer, same chunks and batches of 32).

    python -m bench.gpu.speed          # on the GPU machine (a CPU runs it too, slowly)

Writes bench/results/gpu-speed.json and the "gpu" section of bench/results/throughput.md.
Rounds alternate between the paths and the best of each is kept.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.machine import command_line, cpu_name
from bench.speed.shapes import (
    SHAPES,
    bench_inputs,
    best_of,
    shape_checkpoint,
    training_ratio,
)
from bench.speed.throughput import plain_predict, replace_section
from lukener.data.documents import Document
from lukener.modeling.loading import load_span_model
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from tests.tiny_models import build_luke_tokenizer

# The batches lukener's GPU default is compared with; rounds before 8 measured the reverse
# (their default was 32 chunks, 16384 tokens; this other column had 256 chunks, 65536 tokens).
OTHER_BATCHES = {"batch_size": 32, "max_batch_tokens": 16384}
OTHER_BATCHES_KEY = "lukener_bf16_32_chunks"
BATCH_LABELS = {
    OTHER_BATCHES_KEY: ("256 chunks, 65536 tokens", "32 chunks, 16384 tokens"),
    "lukener_bf16_large_batches": ("32 chunks, 16384 tokens", "256 chunks, 65536 tokens"),
}


def predict_speeds(
    checkpoint: Path, documents: list[Document], rounds: int, device: str, compile_model: bool
) -> dict[str, Any]:
    """Sentences/s of each path and each lukener path's ratio over the plain path in the
    same precision."""
    fused = load_span_model(str(checkpoint), device=device)
    plain = load_span_model(str(checkpoint), device=device, fused_attention=False)
    predictors = {
        "lukener": Predictor(fused),
        "lukener_bf16": Predictor(fused, RunOptions(precision="bf16")),
        OTHER_BATCHES_KEY: Predictor(fused, RunOptions(precision="bf16", **OTHER_BATCHES)),
    }
    if compile_model:
        predictors["lukener_bf16_compile"] = Predictor(
            fused, RunOptions(precision="bf16", compile_model=True)
        )
    paths: dict[str, Any] = {
        name: (lambda p=p: list(p.predict(documents))) for name, p in predictors.items()
    }
    paths["plain"] = lambda: plain_predict(plain, documents)
    paths["plain_bf16"] = lambda: plain_predict(plain, documents, torch.bfloat16)
    warm_up: dict[str, float] = {}
    out: dict[str, Any] = {}
    for name, run in list(paths.items()):  # compiles and autotunes here, timed apart
        started = time.perf_counter()
        try:
            run()
        except Exception as error:  # a failed compile is reported, not fatal
            if name != "lukener_bf16_compile":
                raise
            out["compile_error"] = f"{type(error).__name__}: {error}"[:500]
            del paths[name], predictors[name]
        warm_up[name] = time.perf_counter() - started
    seconds = best_of(paths, rounds)
    sentences = sum(len(d.examples) for d in documents)
    out["sentences"] = float(sentences)
    out |= {f"{name}_sentences_per_second": sentences / s for name, s in seconds.items()}
    for name in predictors:
        plain_name = "plain" if name == "lukener" else "plain_bf16"
        out[f"{name}_over_{plain_name}"] = seconds[plain_name] / seconds[name]
    if "lukener_bf16_compile" in predictors:
        out["compile_warm_up_seconds"] = warm_up["lukener_bf16_compile"]
    return out


def gpu_markdown(results: dict[str, Any]) -> list[str]:
    lines = [
        "## On a GPU, across model shapes",
        "",
        (
            f"Device: {results['device']} (host: {results['machine']}). Random weights; "
            "best of interleaved rounds. Ratios are against the plain path in the same "
            "precision (fp32 against fp32, bf16 autocast against bf16 autocast)."
        ),
        "",
        f"    {results['command']}",
        "",
        (
            "| shape | input | plain fp32 | lukener fp32 | plain bf16 | lukener bf16 "
            "(default batches) | lukener bf16, other batches | bf16 --compile | "
            "train bf16: packed / padded |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    inputs = {"tweets": "WNUT-16 tweets", "conll_in_context": "CoNLL-2003 in context"}
    for name, row in results["shapes"].items():
        shape = row["shape"]
        label = f"{name} ({shape['num_hidden_layers']} x {shape['hidden_size']})"
        training = row.get("training", {})
        train_cell = (
            f"{training['packed_steps_per_second']:.1f} / "
            f"{training['padded_steps_per_second']:.1f} steps/s "
            f"({training['packed_over_padded']:.2f}x)"
            if training
            else "not run"
        )
        for key, what in inputs.items():
            speed = row.get(key)
            if not speed:
                continue

            def cell(path: str, ratio: str | None = None, speed: dict[str, Any] = speed) -> str:
                value = speed.get(f"{path}_sentences_per_second")
                if value is None:
                    failed = path == "lukener_bf16_compile" and "compile_error" in speed
                    return "failed (see the JSON)" if failed else "not run"
                return f"{value:.0f}" + (f" ({speed[ratio]:.2f}x)" if ratio else "")

            other = next(k for k in BATCH_LABELS if f"{k}_sentences_per_second" in speed)
            default_batches, other_batches = BATCH_LABELS[other]
            cells = [
                label,
                f"{what} ({speed['sentences']:.0f} sentences), sentences/s",
                cell("plain"),
                cell("lukener", "lukener_over_plain"),
                cell("plain_bf16"),
                cell("lukener_bf16", "lukener_bf16_over_plain_bf16") + f"; {default_batches}",
                cell(other, f"{other}_over_plain_bf16") + f"; {other_batches}",
                cell("lukener_bf16_compile", "lukener_bf16_compile_over_plain_bf16"),
                train_cell if key == "tweets" else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tweets", type=int, default=1000)
    parser.add_argument("--conll-sentences", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=40)
    parser.add_argument(
        "--compile-shapes",
        default=",".join(SHAPES),
        help="the shapes whose predict is also timed with --compile (its warm-up is long)",
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/gpu-speed.json"))
    parser.add_argument("--markdown", type=Path, default=Path("bench/results/throughput.md"))
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args()
    if args.tables_only:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        replace_section(args.markdown, "gpu", gpu_markdown(results))
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "no GPU (CPU run)",
        "machine": f"{cpu_name()}, torch {torch.__version__}",
        "command": command_line("bench.gpu.speed", args),
        "shapes": {},
    }
    with tempfile.TemporaryDirectory(prefix="lukener-gpu-speed-") as temporary:
        root = Path(temporary)
        _, tweets, conll, train_data = bench_inputs(root, args, train_tweets=256)
        tokenizer = build_luke_tokenizer(lite=False)
        for name in args.shapes.split(","):
            checkpoint = shape_checkpoint(root / name, tokenizer, SHAPES[name])
            row: dict[str, Any] = {"shape": SHAPES[name]}
            compile_model = name in args.compile_shapes.split(",")
            row["tweets"] = predict_speeds(checkpoint, tweets, args.rounds, device, compile_model)
            if conll:
                row["conll_in_context"] = predict_speeds(
                    checkpoint, conll, args.rounds, device, compile_model
                )
            row["training"] = training_ratio(
                checkpoint,
                train_data,
                root,
                args.train_steps,
                args.rounds,
                cpu=device != "cuda",
                batch_size=32,
                bf16=device == "cuda",
            )
            results["shapes"][name] = row
            print(name, json.dumps(row), flush=True)
            # Written after each shape: a run cut short still leaves what it measured.
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    replace_section(args.markdown, "gpu", gpu_markdown(results))
    print("\n".join(gpu_markdown(results)))


if __name__ == "__main__":
    main()
