"""Which tokens a span model's words and spans may attend to.

LUKE was pre-trained with entities in its input, so its words learned to read them. An
encoder adopted as LUKE (MiniLM, BERT, e5: see adoption.py) never saw them: fed a sentence
with 64 candidate spans, each a copy of the ``[MASK]`` embedding, its words spend much of
their attention on those and their states drift far from the encoder's own. The modes:

- ``full``: LUKE's attention, every token sees every token (pre-trained LUKE and mLUKE).
- ``one-way``: words see only words, so their states are the encoder's own whatever the
  spans; spans see words and spans.
- ``isolated``: as ``one-way``, and each span sees the words and itself only, so its logits
  do not depend on which other spans share its input (chunking, sampled negatives).
- ``inside``: as ``isolated``, but each span sees only its own words and itself: an
  adopted encoder's ``[MASK]`` span has no pre-trained way to find its words among all of
  the input's, and this gives it them; the context reaches the classifier through the
  start and end words' states. It needs each span's word positions, which every forward
  path has (the fused one through a hook on the model's forward).

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
    "inside_words",
    "per_input",
    "restrict_additive_mask",
    "span_attention_of",
]

SPAN_ATTENTION_MODES = ("full", "one-way", "isolated", "inside")
# The mode a newly adopted encoder trains with (bench/results/ablation.md).
ADOPTED_SPAN_ATTENTION = "inside"
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
    mode: str,
    words: int,
    length: int,
    device: torch.device | str | None = None,
    span_words: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """``(length, length)`` bool, True where query row may attend to key column, for inputs
    whose first ``words`` tokens are words and the rest spans; None for ``full``. For
    ``inside``, ``(inputs, length, length)``: each span's row keeps only its own words,
    ``span_words`` (:func:`inside_words`)."""
    if mode == "full":
        return None
    allowed = torch.ones((length, length), dtype=torch.bool, device=device)
    allowed[:words, words:] = False
    if mode in ("isolated", "inside"):
        spans = length - words
        allowed[words:, words:] = torch.eye(spans, dtype=torch.bool, device=device)
    if mode == "inside":
        if span_words is None:
            raise ValueError(
                "span attention 'inside' needs each span's word positions (entity_position_ids)"
            )
        allowed = allowed.expand(span_words.size(0), length, length).clone()
        allowed[:, words:, :words] &= span_words
    return allowed


def per_input(allowed: torch.Tensor) -> torch.Tensor:
    """``allowed`` (``(length, length)`` or ``(inputs, length, length)``) broadcastable to
    ``(inputs, heads, length, length)``."""
    return allowed[None, None] if allowed.dim() == 2 else allowed[:, None]


def restrict_additive_mask(
    mask: torch.Tensor | None, allowed: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """An additive mask (broadcastable to ``(batch, heads, length, length)``) that keeps what
    ``mask`` blocks (additive or bool "may attend") and also blocks what ``allowed``
    (``(length, length)`` or ``(batch, length, length)``) does."""
    lowest = torch.finfo(dtype).min
    restriction = torch.zeros(allowed.shape, dtype=dtype, device=allowed.device)
    restriction = per_input(restriction.masked_fill(~allowed, lowest))
    if mask is None:
        return restriction
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, lowest)
    return (mask.to(dtype) + restriction).clamp(min=lowest)


def inside_words(entity_position_ids: torch.Tensor, words: int) -> torch.Tensor:
    """``(inputs, spans, words)`` bool, True where the word is one of the span's: for the
    ``inside`` mode, whose spans see only those words (and themselves). Padding spans (no
    word position) keep every word, or their rows would have nothing to attend to."""
    word_positions = torch.arange(words, device=entity_position_ids.device)
    # a comparison rather than a scatter: it exports to ONNX as it is
    inside = (entity_position_ids[..., None] == word_positions).any(dim=2)
    return inside | ~inside.any(dim=-1, keepdim=True)
