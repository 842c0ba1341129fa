"""The full CoNLL-2003 comparison on one GPU, in one call meant to finish within 8 minutes
on an H100 or H200: all of eng.train, full document context (512 subwords), the seed's 64
spans per input and spans of up to 16 subwords with every negative span; the span model in
document context, on single sentences, and the BIO token baseline (token-head: its classifier
at the span model's head rate); rates picked on eng.testa by the CPU benchmark at 3 epochs
(bench/results/accuracy.md), one seed; test on all of eng.testb.

    python -m bench.gpu.conll                      # on the GPU machine
    python -m bench.gpu.conll --parallel           # the three systems at once, one process each
    python -m bench.gpu.conll --smoke              # a few documents, to check it runs (CPU)

MiniLM-L6 leaves most of an H100 idle and each training step waits on Python's collation, so
with --parallel the three systems train side by side on the one GPU (the wall time is then
the slowest system's; each row's train time was measured beside the others).

Writes bench/results/gpu-conll.json and .md with the device named. The span model trains in
bf16 (autocast); both systems share epochs and batch size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.accuracy import systems


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rates", default="span-context=2e-4,span-sentences=4e-4,token-head=2e-4",
                        help="system=rate; defaults: the CPU benchmark's picks at 3 epochs")  # fmt: skip
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--parallel", action="store_true", help="train the systems at once, one process each"
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/gpu-conll.json"))
    systems.add_span_training_arguments(parser)
    # What systems.system_run reads besides: MiniLM, and the context set in main().
    parser.set_defaults(encoder="minilm", max_context=0)
    return parser


def main() -> None:
    args = arguments().parse_args()
    if args.smoke:
        systems.CONLL_TRAIN_DOCUMENTS, systems.CONLL_VALIDATION_DOCUMENTS = 2, 1
        args.epochs = 0.1
    else:
        systems.CONLL_TRAIN_DOCUMENTS = systems.CONLL_VALIDATION_DOCUMENTS = None  # type: ignore[assignment]
    systems.CONLL_CONTEXT = 512
    systems.SPAN_SETTINGS = {"max_mention_length": 16, "negative_rate": 1.0}
    if torch.cuda.is_available():
        systems.SPAN_EXTRA = {"bf16": True, "eval_batch_size": 256}
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else systems.machine_name()
    rates = {item.split("=")[0]: float(item.split("=")[1]) for item in args.rates.split(",")}
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if args.parallel:
        rows = parallel_rows(rates, sys.argv[1:], args.output)
        write_tables(args, device, time.perf_counter() - started, rows)
        return
    with tempfile.TemporaryDirectory(prefix="lukener-gpu-") as temporary:
        root = Path(temporary)
        splits = systems.corpus_splits("conll2003", root / "data")
        if args.smoke:
            splits["test"] = splits["test"][:1]
        for system, rate in rates.items():
            data = systems.single_sentences_splits(splits) if system == "span-sentences" else splits
            work = root / system
            work.mkdir()
            begun = time.perf_counter()
            run = systems.system_run(system, "conll2003", data, work, args, rate, args.seed, True)
            run["wall_seconds"] = time.perf_counter() - begun
            print(json.dumps(run), flush=True)
            rows.append(run)
    write_tables(args, device, time.perf_counter() - started, rows)


def parallel_rows(rates: dict[str, float], argv: list[str], output: Path) -> list[dict[str, Any]]:
    """Each system's row from its own process (this script with only that system),
    all running at once."""
    base = [a for a in argv if a != "--parallel"]
    outputs = {system: output.with_name(f"{output.stem}-{system}.json") for system in rates}
    script = [sys.executable, "-m", "bench.gpu.conll", *base]
    processes = [
        subprocess.Popen([*script, "--rates", f"{system}={rate}", "--output", str(outputs[system])])
        for system, rate in rates.items()
    ]
    failed = [p.args for p in processes if p.wait() != 0]
    if failed:
        raise SystemExit(f"failed: {failed}")
    rows = []
    for path in outputs.values():
        rows += json.loads(path.read_text(encoding="utf-8"))["rows"]
        path.unlink()
        path.with_suffix(".md").unlink()
    return rows


def write_tables(
    args: argparse.Namespace, device: str, total: float, rows: list[dict[str, Any]]
) -> None:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"device": device, "seconds": total, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# CoNLL-2003 on one GPU: full eng.train, document context 512, 64 spans per input",
        "",
        (
            f"Device: {device}. Total wall time: {total / 60:.1f} min. Seed {args.seed}, "
            f"{args.epochs:g} epochs, batch {args.batch_size}"
            + (", the systems trained side by side (one process each)." if args.parallel else ".")
        ),
        "",
        "| system | lr | validation F1 | test P | test R | test F1 | train time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        test = row["test"]
        lines.append(
            f"| {row['system']} | {row['learning_rate']:g} | {100 * row['validation_f1']:.2f} | "
            f"{100 * test['precision']:.2f} | {100 * test['recall']:.2f} | {100 * test['f1']:.2f} | "
            f"{row['train_seconds']:.0f} s |"
        )
    args.output.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
