"""int8 variants on a trained checkpoint: test F1 of each against fp32, on one core.

    python -m bench.accuracy.int8_variants --checkpoint runs/demo/model --data data/wnut16/test.jsonl

Variants (dynamic quantization of the linear layers, weights with one scale per output
channel; activations quantized on the fly with one scale per batch):

- ``lukener``: what ``--quantize int8`` runs (8-bit weights, 7-bit activations);
- ``w8a8``: 8-bit activations (on CPUs without VNNI, fbgemm's int16 pair sums can saturate);
- ``w7a8``: 7-bit weights and 8-bit activations, whose pair sums cannot saturate;
- ``ffn1-fp32``: as ``lukener``, with the feed-forward's first layer kept in fp32.

Results go to ``bench/results/int8.md`` and ``.json`` with the machine. Speed is
``python -m bench.speed.shapes``'s to measure, not this script's.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from bench.machine import cpu_name
from lukener.data.documents import read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.tasks.evaluation import evaluate_documents
from lukener.tasks.run_options import RunOptions

VARIANTS = ("fp32", "lukener", "w8a8", "w7a8", "ffn1-fp32")


def quantized(model: Any, weight_bits: int, activation_bits: int, keep: str | None) -> Any:
    """``model`` with its linear layers (except names matching ``keep``) dynamically
    quantized: per-channel symmetric weights of ``weight_bits``, activations of
    ``activation_bits`` (7 or 8)."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import PerChannelMinMaxObserver, PlaceholderObserver, QConfig

    half = 2 ** (weight_bits - 1)
    qconfig = QConfig(
        activation=PlaceholderObserver.with_args(
            dtype=torch.quint8, quant_min=0, quant_max=255, is_dynamic=True
        ),
        weight=PerChannelMinMaxObserver.with_args(
            dtype=torch.qint8,
            qscheme=torch.per_channel_symmetric,
            quant_min=-half,
            quant_max=half - 1,
        ),
    )
    model = copy.deepcopy(model).eval()
    spec = {
        name: qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not (keep and re.search(keep, name))
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
    for module in model.modules():
        if isinstance(module, DynamicLinear):
            # Version 4 passes reduce_range=True (7-bit activations); earlier versions do not.
            module.version = 4 if activation_bits == 7 else 3
    return model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/demo/model"))
    parser.add_argument("--data", type=Path, default=Path("data/wnut16/test.jsonl"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--output", type=Path, default=Path("bench/results/int8.md"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    span_model = load_span_model(str(args.checkpoint), device="cpu")
    documents = list(read_jsonl(args.data))
    results = []
    for variant in args.variants.split(","):
        run = RunOptions(threads=1)
        model = span_model
        if variant == "lukener":
            run = RunOptions(threads=1, quantize="int8")
        elif variant != "fp32":
            bits = {"w8a8": (8, 8, None), "w7a8": (7, 8, None), "ffn1-fp32": (8, 7, "intermediate")}
            model = replace(span_model, model=quantized(span_model.model, *bits[variant]))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions")
            metrics = evaluate_documents(model, documents, run=run).metrics.micro
        result = {
            "variant": variant,
            "precision": 100 * metrics.precision,
            "recall": 100 * metrics.recall,
            "f1": 100 * metrics.f1,
        }
        print(json.dumps(result), flush=True)
        results.append(result)

    fp32 = next((r["f1"] for r in results if r["variant"] == "fp32"), None)
    machine = f"{cpu_name()}, one torch thread, torch {torch.__version__}"
    lines = [
        "# int8 variants: test F1 against fp32",
        "",
        f"Machine: {machine}. Checkpoint `{args.checkpoint}`, data `{args.data}`.",
        "",
        "    python -m bench.accuracy.int8_variants "
        + f"--checkpoint {args.checkpoint} --data {args.data}",
        "",
        "| variant | P | R | F1 | F1 change |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        change = f"{r['f1'] - fp32:+.2f}" if fp32 is not None else ""
        lines.append(
            f"| {r['variant']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | "
            f"{change} |"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.output.with_suffix(".json").write_text(
        json.dumps({"machine": machine, "checkpoint": str(args.checkpoint), "runs": results},
                   indent=2) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    print("\n".join(lines))


if __name__ == "__main__":
    main()
