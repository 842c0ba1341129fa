"""Seconds per AdamW step, torch's per-tensor loop against its fused kernel (what
``lukener train`` now uses), on real parameter sets: MiniLM-L6 and, when built
(``python -m bench.accuracy.e5_encoder``), multilingual-e5-small; random gradients, lukener's
parameter groups.

    python -m bench.speed.optimizer_step [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from bench.machine import cpu_name
from lukener.tasks.demo import minilm_directory
from lukener.tasks.optimizer import parameter_groups

E5 = Path("data/e5/multilingual-e5-small")


def step_seconds(model: torch.nn.Module, fused: bool, steps: int) -> float:
    optimizer = torch.optim.AdamW(
        parameter_groups(model, 1e-4, 1e-2, 0.01),
        lr=1e-4,
        betas=(0.9, 0.98),
        eps=1e-6,
        fused=fused or None,
    )
    optimizer.step()  # the state is allocated here, not timed
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    from transformers import AutoModel

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{cpu_name()}, {args.threads} thread(s), torch {torch.__version__}")
    encoders = {"MiniLM-L6": minilm_directory()} | ({"e5": E5} if E5.is_dir() else {})
    for name, path in encoders.items():
        model = AutoModel.from_pretrained(str(path))
        for parameter in model.parameters():
            parameter.grad = torch.randn_like(parameter) * 1e-3
        best = {
            fused: min(step_seconds(model, fused, args.steps) for _ in range(2))
            for fused in (False, True)
        }
        count = sum(p.numel() for p in model.parameters()) / 1e6
        print(
            f"{name} ({count:.1f}M parameters): loop {1000 * best[False]:.0f} ms, "
            f"fused {1000 * best[True]:.0f} ms, {best[False] / best[True]:.1f}x"
        )


if __name__ == "__main__":
    main()
