"""Packed against padded training forward under dropout: same mean loss, same expected
gradient?

With dropout off, tests show both forwards give the same loss and gradients (1e-5). With
dropout on, their random masks differ, so single steps differ; what must agree is the
distribution. On one training batch this estimates each forward's mean loss and its mean
gradient over ``--draws`` dropout draws, twice with different seeds, and prints per part of
the model the distance between the two forwards' mean gradients beside the distance between
two estimates of the same forward (the sampling noise).

    python -m bench.accuracy.packed_dropout --checkpoint runs/demo/model
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

import torch

from lukener.data.documents import read_jsonl
from lukener.modeling.loading import load_span_model
from lukener.modeling.packed_inference import PackedSpanClassifier
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.predictor import collator_for


def part_of(name: str) -> str:
    if name.startswith("luke.encoder.layer."):
        number = name.split(".")[3]
        return f"layer {number} " + ("attention" if ".attention." in name else "feed-forward")
    if name.startswith("luke.entity_embeddings"):
        return "entity embeddings"
    if name.startswith("luke.embeddings"):
        return "word embeddings"
    return name.split(".")[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", type=Path, default=Path("data/wnut16/train.jsonl"))
    parser.add_argument("--chunks", type=int, default=16, help="the batch: first N chunks")
    parser.add_argument("--negative-rate", type=float, default=0.25)
    parser.add_argument("--draws", type=int, default=24)
    args = parser.parse_args()

    span_model = load_span_model(args.checkpoint, device="cpu")
    label2id = {label: i for i, label in span_model.id2label.items()}
    encoder = SpanEncoder(
        span_model.tokenizer, span_model.settings, label2id, args.negative_rate, 42
    )
    chunks = []
    for document in read_jsonl(args.data):
        chunks += encoder.encode_document(document)[0]
        if len(chunks) >= args.chunks:
            break
    batch = collator_for(span_model)(chunks[: args.chunks])
    labels = batch.pop("labels")
    model = span_model.model
    model.train()

    def packed() -> torch.Tensor:
        logits = PackedSpanClassifier(model)(**batch)
        return torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))

    def padded() -> torch.Tensor:
        loss: torch.Tensor = model(**batch, labels=labels).loss
        return loss

    parameters = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def estimate(
        forward: Callable[[], torch.Tensor], offset: int
    ) -> tuple[list[float], list[torch.Tensor]]:
        losses, mean = [], [torch.zeros_like(p) for _, p in parameters]
        for draw in range(args.draws):
            torch.manual_seed(offset + draw)
            model.zero_grad()
            loss = forward()
            loss.backward()
            losses.append(loss.item())
            for total, (_, parameter) in zip(mean, parameters, strict=True):
                if parameter.grad is not None:
                    total += parameter.grad / args.draws
        return losses, mean

    runs = {
        (name, offset): estimate(forward, offset)
        for name, forward in (("packed", packed), ("padded", padded))
        for offset in (0, 10_000)
    }
    for name in ("packed", "padded"):
        losses = runs[(name, 0)][0] + runs[(name, 10_000)][0]
        print(
            f"{name}: mean loss {statistics.mean(losses):.5f} (sd {statistics.stdev(losses):.5f}, "
            f"{len(losses)} draws)"
        )
    # Every pair from independent draws (different seeds): the same seed would draw the
    # same masks where both forwards' dropouts have the same shape, and hide a difference.
    pairs = ((("packed", 0), ("padded", 10_000)), (("padded", 0), ("packed", 10_000)),
             (("packed", 0), ("packed", 10_000)), (("padded", 0), ("padded", 10_000)))  # fmt: skip
    print("\nDistance between mean gradients, per part of the model:")
    print(f"{'part':24} " + " ".join(f"{f'{a[0]} - {b[0]}':>16}" for a, b in pairs))
    distances: dict[str, list[float]] = {}
    for index, (name, _) in enumerate(parameters):
        row = distances.setdefault(part_of(name), [0.0] * len(pairs))
        for column, (first, second) in enumerate(pairs):
            row[column] += float((runs[first][1][index] - runs[second][1][index]).norm() ** 2)
    for part, row in distances.items():
        if not any(row):
            continue  # no gradient reaches it (the pooler)
        print(f"{part:24} " + " ".join(f"{value**0.5:16.5f}" for value in row))


if __name__ == "__main__":
    main()
