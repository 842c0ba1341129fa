"""Which tokens a span model's words and spans may attend to.

LUKE was pre-trained with entities in its input, so its words learned to read them. An
encoder adopted as LUKE (MiniLM, BERT, e5: see adoption.py) never saw them: fed a sentence
with 64 candidate spans, each a copy of the ``[MASK]`` embedding, its words spend much of
their attention on those and their states drift far from the encoder's own (mean cosine
0.63 against the plain encoder on a CoNLL sentence, MiniLM-L6). The modes:

- ``full``: LUKE's attention, every token sees every token (pre-trained LUKE and mLUKE).
- ``one-way``: words see only words, so their states are the encoder's own whatever the
  spans; spans see words and spans.
- ``isolated``: as ``one-way``, and each span sees the words and itself only, so its logits
  do not depend on which other spans share its input (chunking, sampled negatives).

The mode is a property of the trained model: it is stored in the model's config as
``span_attention`` (absent: ``full``) and every lukener forward path applies it (packed,
fused and ONNX). transformers' own forward knows nothing of it.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "ADOPTED_SPAN_ATTENTION",
    "SPAN_ATTENTION_MODES",
    "allowed_attention",
    "restrict_additive_mask",
    "span_attention_of",
]

SPAN_ATTENTION_MODES = ("full", "one-way", "isolated")
# The mode a newly adopted encoder trains with (bench/results/ablation.md).
ADOPTED_SPAN_ATTENTION = "isolated"
CONFIG_KEY = "span_attention"


def span_attention_of(config: Any) -> str:
    """The model's mode; checkpoints that do not name one use LUKE's full attention."""
    mode = getattr(config, CONFIG_KEY, None) or "full"
    if mode not in SPAN_ATTENTION_MODES:
        raise ValueError(
            f"span_attention must be one of {', '.join(SPAN_ATTENTION_MODES)}, not {mode!r}"
        )
    return str(mode)


def allowed_attention(
    mode: str, words: int, length: int, device: torch.device | str | None = None
) -> torch.Tensor | None:
    """``(length, length)`` bool, True where query row may attend to key column, for inputs
    whose first ``words`` tokens are words and the rest spans; None for ``full``."""
    if mode == "full":
        return None
    allowed = torch.ones((length, length), dtype=torch.bool, device=device)
    allowed[:words, words:] = False
    if mode == "isolated":
        spans = length - words
        allowed[words:, words:] = torch.eye(spans, dtype=torch.bool, device=device)
    return allowed


def restrict_additive_mask(
    mask: torch.Tensor | None, allowed: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """An additive mask (broadcastable to ``(batch, heads, length, length)``) that keeps what
    ``mask`` blocks (additive or bool "may attend") and also blocks what ``allowed`` does."""
    lowest = torch.finfo(dtype).min
    restriction = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    restriction = restriction.masked_fill(~allowed, lowest)[None, None]
    if mask is None:
        return restriction
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, lowest)
    return (mask.to(dtype) + restriction).clamp(min=lowest)
