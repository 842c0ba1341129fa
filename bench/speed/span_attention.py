"""Predict time of one checkpoint under LUKE's full span attention and the restricted modes.

    python -m bench.speed.span_attention --checkpoint runs/demo/model --data data/wnut16/test.jsonl

The modes give other logits (the checkpoint was trained with one of them); this times only
the cost of their masks (span_attention.py) in packed inference: per query for
``isolated``, per input and query for ``inside``. Rounds alternate between the modes; the
ratios are of the best round of each.
"""

from __future__ import annotations

import argparse
import time

import torch

from lukener.data.documents import read_jsonl
from lukener.modeling.fused_attention import set_span_attention
from lukener.modeling.loading import load_span_model
from lukener.tasks.predictor import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", default="runs/demo/model")
    parser.add_argument("--data", default="data/wnut16/test.jsonl")
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--modes", default="full,isolated,inside", help="the first is the base")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    span_model = load_span_model(args.checkpoint)
    documents = list(read_jsonl(args.data))[: args.documents]
    modes = args.modes.split(",")
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    for mode in modes * args.rounds:
        set_span_attention(span_model.model, mode)
        predictor = Predictor(span_model)
        started = time.perf_counter()
        for _ in predictor.predict(documents):
            pass
        times[mode].append(time.perf_counter() - started)
    print({mode: [round(t, 2) for t in seconds] for mode, seconds in times.items()})
    base = modes[0]
    for mode in modes[1:]:
        ratio = min(times[mode]) / min(times[base])
        print(f"{mode} / {base} (best rounds): {ratio:.3f}")


if __name__ == "__main__":
    main()
