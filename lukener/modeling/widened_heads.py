"""Entity-aware attention as one product per head: the widened heads.

LUKE's entity-aware self-attention scores a word query against word keys with ``query`` and
against span keys with ``w2e_query``, and a span query with ``e2w_query`` and ``e2e_query``.
Widened, each head's query is ``[q_w2w | q_w2e]`` for a word and ``[q_e2w | q_e2e]`` for a
span, its key ``[k | 0]`` for a word and ``[0 | k]`` for a span: one dot product over the
doubled head dimension then gives exactly the score LUKE picks from its four, so one fused
attention call replaces them (scaled by the original head dimension). Values are widened
with zeros (``[v | 0]``) only because the fused CPU kernel needs values as wide as keys; the
extra output columns are dropped.

The fused attention (fused_attention.py) and the packed forward (packed_inference.py) lay
their tokens out differently and both build the widened heads here.
"""

from __future__ import annotations

import torch


def widened(first: torch.Tensor | None, second: torch.Tensor | None) -> torch.Tensor:
    """``(..., heads, 2, head_dim)``: each head's ``first`` then ``second`` part (both
    ``(..., heads, head_dim)``), zeros for a part that is None."""
    given = first if first is not None else second
    if given is None:
        raise ValueError("a widened head needs at least one of its parts")
    zeros = torch.zeros_like(given)
    return torch.stack(
        [first if first is not None else zeros, second if second is not None else zeros], dim=-2
    )


def word_key(key: torch.Tensor) -> torch.Tensor:
    """A word's widened key ``[k | 0]``."""
    return widened(key, None)


def span_key(key: torch.Tensor) -> torch.Tensor:
    """A span's widened key ``[0 | k]``."""
    return widened(None, key)


def widened_value(value: torch.Tensor) -> torch.Tensor:
    """A widened value ``[v | 0]``."""
    return widened(value, None)
