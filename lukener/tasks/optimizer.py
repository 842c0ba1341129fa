"""The optimizer of a training run: AdamW as naist-nlp/luke-ner sets it up, the new head at
a rate of its own."""

from __future__ import annotations

from typing import Any

import torch

from lukener.tasks.train_options import Optimization

# Parameters a span model starts without (the classifier is new, or relabelled): with
# --head-learning-rate they learn at their own rate.
HEAD_PREFIXES = ("classifier.",)
FUSED_ADAMW_DEVICES = frozenset({"cpu", "cuda"})


def parameter_groups(
    model: Any, rate: float, head_rate: float, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW parameter groups: the head (:data:`HEAD_PREFIXES`) at ``head_rate``, the rest at
    ``rate``; no decay on biases and LayerNorms; frozen parameters left out."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        head = name.startswith(HEAD_PREFIXES)
        decayed = not (name.endswith(".bias") or "LayerNorm" in name or "layer_norm" in name)
        groups.setdefault((head, decayed), []).append(parameter)
    return [
        {
            "params": parameters,
            "lr": head_rate if head else rate,
            "weight_decay": weight_decay if decayed else 0.0,
        }
        for (head, decayed), parameters in groups.items()
    ]


def build_optimizer(model: Any, optimization: Optimization) -> torch.optim.Optimizer:
    """AdamW as naist-nlp/luke-ner sets it up (betas 0.9/0.98, eps 1e-6, no decay on biases
    and LayerNorms), with the head at ``--head-learning-rate`` when given.

    The Trainer's linear schedule scales every group alike, so the head's rate keeps its
    ratio to the encoder's through warmup and decay.
    """
    rate = optimization.learning_rate
    head_rate = optimization.head_learning_rate or rate
    return adamw(
        parameter_groups(model, rate, head_rate, optimization.weight_decay),
        lr=rate,
        betas=(0.9, 0.98),
        eps=1e-6,
    )


def adamw(groups: list[dict[str, Any]], lr: float, **settings: Any) -> torch.optim.AdamW:
    """torch's AdamW, fused (one kernel updates every parameter: the Trainer's own default
    optimizer, ``adamw_torch_fused``) where all parameters are floating point on a device
    that has the fused kernel; the per-tensor loop elsewhere (the same update, up to rounding)."""
    parameters = [p for group in groups for p in group["params"]]
    fused = all(p.is_floating_point() and p.device.type in FUSED_ADAMW_DEVICES for p in parameters)
    return torch.optim.AdamW(groups, lr=lr, fused=fused or None, **settings)
