"""An exact, faster self-attention for LUKE models, built on ``scaled_dot_product_attention``.

transformers' ``LukeSelfAttention`` scores word and entity queries with four separate matmuls
(w2w, w2e, e2w, e2e) and concatenates the score blocks before one softmax. Here every head's
query becomes ``[q_w2w | q_w2e]`` for a word and ``[q_e2w | q_e2e]`` for an entity, and its
key ``[k | 0]`` for a word and ``[0 | k]`` for an entity: one dot product over the doubled head
dimension then gives exactly the block that transformers would pick, so a single fused SDPA
call over all tokens replaces the matmuls, concatenations, mask addition and softmax.

This module imports transformers' LUKE code: import it where transformers is loaded anyway.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.luke.modeling_luke import LukeSelfAttention

__all__ = ["FusedLukeSelfAttention", "install_fused_attention"]

SelfAttentionOutput = (
    tuple[torch.Tensor, torch.Tensor | None]
    | tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]
)


class FusedLukeSelfAttention(LukeSelfAttention):
    """``LukeSelfAttention`` computing the same result with one SDPA call per layer.

    Same parameters, names and outputs as the original; installed by swapping ``__class__``.
    """

    def forward(
        self,
        word_hidden_states: torch.Tensor,
        entity_hidden_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> SelfAttentionOutput:
        # SDPA returns no attention weights, and it reads a boolean mask as "may attend" where
        # the original adds any mask to the scores: leave both cases to the original code.
        if output_attentions or not _is_additive_mask(attention_mask, word_hidden_states.dtype):
            original: SelfAttentionOutput = super().forward(  # type: ignore[no-untyped-call]
                word_hidden_states, entity_hidden_states, attention_mask, output_attentions
            )
            return original

        word_size = word_hidden_states.size(1)
        head_dim = self.attention_head_size
        if entity_hidden_states is None:
            hidden_states = word_hidden_states
        else:
            hidden_states = torch.cat([word_hidden_states, entity_hidden_states], dim=1)
        batch_size, length = hidden_states.shape[:2]
        key = self._split_heads(self.key(hidden_states))
        value = self._split_heads(self.value(hidden_states))

        if self.use_entity_aware_attention and entity_hidden_states is not None:
            # Filling preallocated buffers writes each projection once, where nested
            # concatenations and pads would copy them two or three times.
            query = key.new_empty(batch_size, length, self.num_attention_heads, 2 * head_dim)
            query[:, :word_size, :, :head_dim] = self._project(self.query, word_hidden_states)
            query[:, :word_size, :, head_dim:] = self._project(self.w2e_query, word_hidden_states)
            query[:, word_size:, :, :head_dim] = self._project(self.e2w_query, entity_hidden_states)
            query[:, word_size:, :, head_dim:] = self._project(self.e2e_query, entity_hidden_states)
            padded_key = key.new_zeros(query.shape)
            padded_key[:, :word_size, :, :head_dim] = key[:, :word_size]
            padded_key[:, word_size:, :, head_dim:] = key[:, word_size:]
            key = padded_key
            # The fused CPU kernel needs values as wide as keys, or SDPA falls back to its
            # unfused one; zero columns are cheaper (the extra output columns are dropped).
            value = F.pad(value, (0, head_dim))
        else:
            query = self._split_heads(self.query(hidden_states))

        context = F.scaled_dot_product_attention(
            query.transpose(1, 2),
            key.transpose(1, 2),
            value.transpose(1, 2),
            attn_mask=attention_mask,
            dropout_p=self.dropout.p if self.training else 0.0,
            # The doubled head dimension must not change the scale of the original heads.
            scale=1.0 / math.sqrt(head_dim),
        )
        context = (
            context[..., :head_dim].transpose(1, 2).reshape(batch_size, length, self.all_head_size)
        )
        if entity_hidden_states is None:
            return context, None
        return context[:, :word_size], context[:, word_size:]

    def _project(self, layer: nn.Module, states: torch.Tensor) -> torch.Tensor:
        """``layer(states)`` split into heads, reading a sliced ``states`` in place."""
        if (
            type(layer) is nn.Linear
            and layer.bias is not None
            and not states.is_contiguous()
            and not (layer._forward_hooks or layer._forward_pre_hooks)
        ):
            # The word and entity halves of a layer's input are slices of one tensor, which
            # nn.Linear would first copy; a batched matmul reads them as they are.
            weight = layer.weight.t().expand(states.size(0), -1, -1)
            return self._split_heads(torch.baddbmm(layer.bias, states, weight))
        return self._split_heads(layer(states))

    def _split_heads(self, states: torch.Tensor) -> torch.Tensor:
        """``(batch, length, hidden)`` to ``(batch, length, heads, head_dim)``."""
        return states.view(
            states.size(0), states.size(1), self.num_attention_heads, self.attention_head_size
        )


def _is_additive_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> bool:
    # SDPA rejects a float mask of another dtype than the queries, and the original promotes.
    return mask is None or (mask.is_floating_point() and mask.dtype == dtype)


def install_fused_attention(model: nn.Module) -> int:
    """Make every ``LukeSelfAttention`` in ``model`` use the fused forward; count those changed.

    Parameters, state dict keys and checkpoints stay as they were. Modules already fused, and
    subclasses of ``LukeSelfAttention`` defined elsewhere, are left alone.
    """
    changed = 0
    for module in model.modules():
        if type(module) is LukeSelfAttention:
            module.__class__ = FusedLukeSelfAttention
            changed += 1
    return changed
