"""Ablation of the span model's training: what each change does to validation F1.

    python -m bench.accuracy.ablation --corpus ja --variants base,head1e-3,head3e-3
    python -m bench.accuracy.ablation --corpus wnut16 --variants base,head1e-3

Every variant starts from the same settings as the accuracy benchmark's span row (MiniLM
adopted as LUKE, spans up to 8 subwords, a quarter of the negatives, batch 16, seed 42) at
the given base learning rate, and changes one thing. Results go to
bench/results/ablation-CORPUS.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.accuracy.systems import corpus_splits, span_model_run
from bench.machine import cpu_name

VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "head1e-3": {"head_learning_rate": 1e-3},
    "head3e-3": {"head_learning_rate": 3e-3},
    "head1e-2": {"head_learning_rate": 1e-2},
    "negatives1.0": {"negative_rate": 1.0},
    "mention16": {"max_mention_length": 16},
    "head1e-3+negatives1.0": {"head_learning_rate": 1e-3, "negative_rate": 1.0},
    "head1e-2+mention16": {"head_learning_rate": 1e-2, "max_mention_length": 16},
    "head1e-2+epochs6": {"head_learning_rate": 1e-2, "epochs": 6.0},
    "head1e-2+negatives0.5": {"head_learning_rate": 1e-2, "negative_rate": 0.5},
    "context128": {"max_sequence_length": 128},
    "head1e-3+context128": {"head_learning_rate": 1e-3, "max_sequence_length": 128},
    # Span attention (lukener/modeling/span_attention.py); rows before it existed were "full".
    "head1e-2+full": {"head_learning_rate": 1e-2, "span_attention": "full"},
    "head1e-2+one-way": {"head_learning_rate": 1e-2, "span_attention": "one-way"},
    "head1e-2+isolated": {"head_learning_rate": 1e-2, "span_attention": "isolated"},
    "head1e-2+context128+full": {
        "head_learning_rate": 1e-2,
        "max_sequence_length": 128,
        "span_attention": "full",
    },
    "head1e-2+context128+one-way": {
        "head_learning_rate": 1e-2,
        "max_sequence_length": 128,
        "span_attention": "one-way",
    },
    "head1e-2+context128+isolated": {
        "head_learning_rate": 1e-2,
        "max_sequence_length": 128,
        "span_attention": "isolated",
    },
    "head1e-2+inside": {"head_learning_rate": 1e-2, "span_attention": "inside"},
    "head1e-2+context128+inside": {
        "head_learning_rate": 1e-2,
        "max_sequence_length": 128,
        "span_attention": "inside",
    },
    "head1e-2+context128+one-way+negatives1.0": {
        "head_learning_rate": 1e-2,
        "max_sequence_length": 128,
        "span_attention": "one-way",
        "negative_rate": 1.0,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--corpus", default="ja", choices=["ja", "wnut16", "conll2003", "conll2003-sentences"]
    )
    parser.add_argument("--variants", default="base,head1e-3")
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output-dir", type=Path, default=Path("bench/results"))
    args = parser.parse_args()

    runs = []
    with tempfile.TemporaryDirectory(prefix="lukener-ablation-") as temporary:
        root = Path(temporary)
        splits = corpus_splits(args.corpus, root / "data")
        for name in args.variants.split(","):
            work = root / name
            work.mkdir(parents=True)
            # Variants that name no span attention are the rows from before it existed.
            changes = {"span_attention": "full", **VARIANTS[name]}
            epochs = float(changes.pop("epochs", args.epochs))
            run = span_model_run(
                splits, work, epochs, args.learning_rate, args.batch_size, args.seed, **changes
            )
            run.update(corpus=args.corpus, variant=name, learning_rate=args.learning_rate)
            print(json.dumps(run), flush=True)
            runs.append(run)
    machine = (
        f"{cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    target = args.output_dir / f"ablation-{args.corpus}.json"
    previous = json.loads(target.read_text()) if target.exists() else {"runs": []}
    kept = [r for r in previous["runs"] if r["variant"] not in {x["variant"] for x in runs}]
    target.write_text(json.dumps({"machine": machine, "runs": kept + runs}, indent=2) + "\n")
    print("| corpus | change | validation F1 | test F1 | steps | train time |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for run in kept + runs:
        print(
            f"| {run['corpus']} | {run['variant']} | {100 * run['validation_f1']:.2f} | "
            f"{100 * run['test']['f1']:.2f} | {run['steps']} | {run['train_seconds']:.0f} s |"
        )


if __name__ == "__main__":
    main()
