"""An exact self-attention for LUKE models, built on ``scaled_dot_product_attention``.

transformers' ``LukeSelfAttention`` scores word and entity queries with four separate matmuls
(w2w, w2e, e2w, e2e) and concatenates the score blocks before one softmax. Here the heads are
widened (widened_heads.py), so a single fused SDPA call over all tokens replaces the matmuls,
concatenations, mask addition and softmax, with the same results (within 1e-5 in fp32).

This module imports transformers' LUKE code: import it where transformers is loaded anyway.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.luke.modeling_luke import LukeModel, LukeSelfAttention

from lukener.modeling.luke_layout import AttentionParts, attention_parts, attention_problems
from lukener.modeling.span_attention import (
    SPAN_ATTENTION_MODES,
    allowed_attention,
    inside_words,
    restrict_additive_mask,
    span_attention_of,
)
from lukener.modeling.widened_heads import span_key, widened, widened_value, word_key

__all__ = ["FusedLukeSelfAttention", "install_fused_attention", "set_span_attention"]

SelfAttentionOutput = (
    tuple[torch.Tensor, torch.Tensor | None]
    | tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]
)


class FusedLukeSelfAttention(LukeSelfAttention):
    """``LukeSelfAttention`` computing the same result with one SDPA call per layer.

    Same parameters, names and outputs as the original; installed by swapping ``__class__``.
    It also applies the model's span attention (span_attention.py), which
    :func:`install_fused_attention` copies to ``span_attention``: the original class has no
    such restriction.
    """

    span_attention = "full"
    # (inputs, spans, words) bool, each span's own words, set for the length of one forward
    # of the model by the hook of install_fused_attention (read by the ``inside`` mode)
    span_words: torch.Tensor | None = None

    def forward(
        self,
        word_hidden_states: torch.Tensor,
        entity_hidden_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> SelfAttentionOutput:
        if entity_hidden_states is not None:
            length = word_hidden_states.size(1) + entity_hidden_states.size(1)
            allowed = allowed_attention(
                self.span_attention,
                word_hidden_states.size(1),
                length,
                word_hidden_states.device,
                self.span_words,
            )
            if allowed is not None:
                attention_mask = restrict_additive_mask(
                    attention_mask, allowed, word_hidden_states.dtype
                )
        # SDPA returns no attention weights, and it reads a boolean mask as "may attend" where
        # the original adds any mask to the scores: leave both cases to the original code.
        if output_attentions or not _is_additive_mask(attention_mask, word_hidden_states.dtype):
            original: SelfAttentionOutput = super().forward(  # type: ignore[no-untyped-call]
                word_hidden_states, entity_hidden_states, attention_mask, output_attentions
            )
            return original

        parts = attention_parts(self)
        word_size = word_hidden_states.size(1)
        head_dim = parts.head_dim
        if entity_hidden_states is None:
            hidden_states = word_hidden_states
        else:
            hidden_states = torch.cat([word_hidden_states, entity_hidden_states], dim=1)
        batch_size, length = hidden_states.shape[:2]
        key, value = self._key_and_value(parts, hidden_states)

        if parts.entity_queries is not None and entity_hidden_states is not None:
            w2e_query, e2w_query, e2e_query = parts.entity_queries
            # Each head's query is [q_w2w | q_w2e] for a word, [q_e2w | q_e2e] for an entity.
            query = torch.cat(
                [
                    self._paired_query(parts, parts.query, w2e_query, word_hidden_states),
                    self._paired_query(parts, e2w_query, e2e_query, entity_hidden_states),
                ],
                dim=1,
            )
            key = torch.cat(
                [word_key(key[:, :word_size]), span_key(key[:, word_size:])], dim=1
            ).flatten(-2)
            value = widened_value(value).flatten(-2)
        else:
            query = _split_heads(parts, parts.query(hidden_states))

        context = F.scaled_dot_product_attention(
            query.transpose(1, 2),
            key.transpose(1, 2),
            value.transpose(1, 2),
            attn_mask=attention_mask,
            dropout_p=parts.dropout.p if self.training else 0.0,
            # The doubled head dimension must not change the scale of the original heads.
            scale=1.0 / math.sqrt(head_dim),
        )
        context = (
            context[..., :head_dim]
            .transpose(1, 2)
            .reshape(batch_size, length, parts.heads * head_dim)
        )
        if entity_hidden_states is None:
            return context, None
        return context[:, :word_size], context[:, word_size:]

    def _key_and_value(
        self, parts: AttentionParts, states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values split into heads, from one matrix product when both are plain."""
        key, value = parts.key, parts.value
        if not (_plain_linear(key) and _plain_linear(value)):
            return _split_heads(parts, key(states)), _split_heads(parts, value(states))
        linears = cast(nn.Linear, key), cast(nn.Linear, value)
        weight = torch.cat([x.weight for x in linears])
        bias = torch.cat([cast(torch.Tensor, x.bias) for x in linears])
        both = F.linear(states, weight, bias)
        size = parts.heads * parts.head_dim
        return _split_heads(parts, both[..., :size]), _split_heads(parts, both[..., size:])

    def _paired_query(
        self, parts: AttentionParts, first: nn.Module, second: nn.Module, states: torch.Tensor
    ) -> torch.Tensor:
        """``(batch, length, heads, 2 * head_dim)``: each head's ``first(states)`` then
        ``second(states)``, from one matrix product when both layers are plain."""
        if not (_plain_linear(first) and _plain_linear(second)):
            return widened(
                _split_heads(parts, first(states)), _split_heads(parts, second(states))
            ).flatten(-2)
        heads, head_dim = parts.heads, parts.head_dim
        layers = cast(nn.Linear, first), cast(nn.Linear, second)
        # Rows ordered head by head, first layer's then second's: the product comes out in
        # the paired layout with no copy.
        weight = torch.stack([x.weight.view(heads, head_dim, -1) for x in layers], dim=1)
        weight = weight.view(2 * heads * head_dim, -1)
        bias = torch.stack(
            [cast(torch.Tensor, x.bias).view(heads, head_dim) for x in layers], dim=1
        )
        paired = F.linear(states, weight, bias.view(-1))
        return paired.view(states.size(0), states.size(1), heads, 2 * head_dim)


def _split_heads(parts: AttentionParts, states: torch.Tensor) -> torch.Tensor:
    """``(batch, length, hidden)`` to ``(batch, length, heads, head_dim)``."""
    return states.view(states.size(0), states.size(1), parts.heads, parts.head_dim)


def _remember_span_words(module: nn.Module, args: tuple, kwargs: dict) -> None:  # type: ignore[type-arg]
    """Before a ``LukeModel`` forward: give its ``inside`` attention modules the spans' words."""
    inside = [
        attention
        for attention in module.modules()
        if isinstance(attention, FusedLukeSelfAttention) and attention.span_attention == "inside"
    ]
    positions = kwargs.get("entity_position_ids")
    words = kwargs.get("input_ids", args[0] if args else None)
    if words is None:
        words = kwargs.get("inputs_embeds")
    if not inside or positions is None or words is None:
        return
    span_words = inside_words(positions, words.size(1))
    for attention in inside:
        attention.span_words = span_words


def _forget_span_words(module: nn.Module, *_: object) -> None:
    for attention in module.modules():
        if isinstance(attention, FusedLukeSelfAttention):
            attention.span_words = None


def _plain_linear(layer: nn.Module) -> bool:
    """An ``nn.Linear`` with a bias and no hooks: its weights may be used directly."""
    return (
        type(layer) is nn.Linear
        and layer.bias is not None
        and not (layer._forward_hooks or layer._forward_pre_hooks)
    )


def _is_additive_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> bool:
    # SDPA rejects a float mask of another dtype than the queries, and the original promotes.
    return mask is None or (mask.is_floating_point() and mask.dtype == dtype)


def install_fused_attention(model: nn.Module) -> int:
    """Make every ``LukeSelfAttention`` in ``model`` use the fused forward; count those changed.

    Parameters, state dict keys and checkpoints stay as they were. Modules already fused, and
    subclasses of ``LukeSelfAttention`` defined elsewhere, are left alone; so is every module
    when transformers' LUKE layout is not the one this was written for (see luke_layout.py).
    """
    targets = [module for module in model.modules() if type(module) is LukeSelfAttention]
    if any(attention_problems(module) for module in targets):
        return 0
    for module in targets:
        module.__class__ = FusedLukeSelfAttention
    # The ``inside`` mode needs each span's words, which only the model's forward is given.
    for luke in [m for m in model.modules() if type(m) is LukeModel]:
        if not getattr(luke, "_lukener_span_words_hooks", False):
            luke.register_forward_pre_hook(_remember_span_words, with_kwargs=True)
            luke.register_forward_hook(_forget_span_words, always_call=True)
            luke._lukener_span_words_hooks = True  # type: ignore[assignment]
    set_span_attention(model, span_attention_of(getattr(model, "config", None)))
    return len(targets)


def set_span_attention(model: nn.Module, mode: str) -> None:
    """Give ``model`` the span attention ``mode`` (span_attention.py), in its config (saved
    with it) and in every fused attention module. A mode other than ``full`` needs the fused
    modules: the original attention cannot apply it."""
    if mode not in SPAN_ATTENTION_MODES:
        raise ValueError(
            f"span attention must be one of {', '.join(SPAN_ATTENTION_MODES)}, not {mode!r}"
        )
    modules = [m for m in model.modules() if isinstance(m, LukeSelfAttention)]
    if mode != "full" and any(type(m) is not FusedLukeSelfAttention for m in modules):
        raise ValueError(
            f"span attention {mode!r} needs lukener's fused attention, which this "
            "transformers version's LUKE layout does not allow (see luke_layout.py)"
        )
    config = getattr(model, "config", None)
    if config is not None:
        config.span_attention = mode
    for module in modules:
        if isinstance(module, FusedLukeSelfAttention):
            module.span_attention = mode
