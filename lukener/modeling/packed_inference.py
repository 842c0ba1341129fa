"""Exact inference and training for LUKE span models with no padding in the matrix products.

transformers' ``LukeForEntitySpanClassification`` pads every input of a batch to the most
words and the most spans of the batch, and all of its layers compute the padding. Here the
real tokens of a batch (every input's words, then every input's spans) are packed into one
matrix: the query, key and value products, the output and feed-forward layers and the
classifier run over those rows only, as one large product each. Only attention needs each
input's tokens side by side: per layer they are scattered into a padded
``(inputs, length)`` layout for one ``scaled_dot_product_attention`` call, with the
entity-aware queries widened as in fused_attention.py, and gathered back. In the last layer
only the rows the classifier reads (spans, and the words where spans start or end) go through
the output and feed-forward layers.

Same parameters, same operations, same results: tests check the logits against
transformers' within 1e-5 in fp32, and in training (every operation is differentiable) the
loss and every gradient, with dropout off. In training mode the model's dropouts apply where
transformers applies them: embeddings, attention probabilities, each layer's outputs, and
the span features before the classifier. It keeps no weights of its own (joining the key and
value products, or each pair of queries, into one was measured no faster on a CPU): every
product is the model's own layer, so changes to the model take effect at once. It reaches
transformers' layers only through luke_layout.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lukener.modeling.luke_layout import AttentionParts, LayerParts, span_model_parts
from lukener.modeling.span_attention import (
    allowed_attention,
    inside_words,
    per_input,
    span_attention_of,
)

__all__ = ["PackedSpanClassifier"]


@dataclass(frozen=True)
class _Packing:
    """Where each packed row lives in the padded attention layout, and what attends."""

    words: int  # packed rows 0..words-1 are words, the rest spans
    rows: torch.Tensor  # (packed rows,) index into the flattened (inputs * length) layout
    inputs: int
    length: int
    # bool, may be attended to: (inputs, 1, 1, length), or (inputs, 1, length, length) when
    # the model's span attention restricts who sees what (span_attention.py)
    key_mask: torch.Tensor


class PackedSpanClassifier:
    """Span logits of a ``LukeForEntitySpanClassification``, computed over packed tokens.

    Called with the padded batch the collator makes (words right-padded, a span being real
    when it has a word position); returns logits shaped like the model's,
    ``(inputs, spans, labels)``, with zeros for padding spans. In training mode gradients
    flow and dropout applies as in transformers' forward.
    """

    def __init__(self, model: Any):
        self.model = model

    def __call__(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        entity_ids: torch.Tensor,
        entity_attention_mask: torch.Tensor,
        entity_position_ids: torch.Tensor,
        entity_start_positions: torch.Tensor,
        entity_end_positions: torch.Tensor,
    ) -> torch.Tensor:
        parts = span_model_parts(self.model)
        word_real = attention_mask.bool()
        entity_real = (entity_position_ids != -1).any(dim=-1)
        words = parts.word_embeddings(
            input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids)
        )
        # Spans as one input of the real ones: their embedding averages up to 16 positions,
        # which for padding spans would be a large share of the work.
        span_ids = entity_ids[entity_real][None]
        spans = parts.entity_embeddings(
            span_ids, entity_position_ids[entity_real][None], torch.zeros_like(span_ids)
        )
        hidden = torch.cat([words[word_real], spans[0]])
        packing = _packing(
            word_real,
            entity_real,
            entity_attention_mask.bool(),
            span_attention_of(self.model.config),
            entity_position_ids,
        )

        # Packed word row of each span's start and end word: words are a prefix of each input.
        word_counts = word_real.sum(dim=1)
        first_word = torch.cumsum(word_counts, dim=0) - word_counts
        starts = (first_word[:, None] + entity_start_positions)[entity_real]
        ends = (first_word[:, None] + entity_end_positions)[entity_real]
        read = torch.cat(
            [
                torch.unique(torch.cat([starts, ends])),
                torch.arange(packing.words, hidden.size(0), device=hidden.device),
            ]
        )

        layers = parts.layers
        for number, layer in enumerate(layers):
            hidden = _layer(layer, hidden, packing, read if number == len(layers) - 1 else None)

        # ``hidden`` now holds the ``read`` rows only.
        position = torch.full((packing.rows.numel(),), -1, dtype=torch.long, device=read.device)
        position[read] = torch.arange(read.numel(), device=read.device)
        spans = hidden[position[packing.words :]]
        features = torch.cat([hidden[position[starts]], hidden[position[ends]], spans], dim=-1)
        span_logits: torch.Tensor = parts.classifier(parts.dropout(features))
        logits = span_logits.new_zeros((*entity_real.shape, span_logits.size(-1)))
        logits[entity_real] = span_logits
        return logits


def _packing(
    word_real: torch.Tensor,
    entity_real: torch.Tensor,
    entity_attended: torch.Tensor,
    span_attention: str = "full",
    entity_position_ids: torch.Tensor | None = None,
) -> _Packing:
    inputs, word_length = word_real.shape
    length = word_length + entity_real.size(1)
    flat = torch.arange(inputs * length, device=word_real.device).view(inputs, length)
    rows = torch.cat([flat[:, :word_length][word_real], flat[:, word_length:][entity_real]])
    key_mask = torch.cat([word_real, entity_real & entity_attended], dim=1)[:, None, None, :]
    span_words = None
    if span_attention == "inside" and entity_position_ids is not None:
        span_words = inside_words(entity_position_ids, word_length)
    allowed = allowed_attention(span_attention, word_length, length, word_real.device, span_words)
    if allowed is not None:
        key_mask = key_mask & per_input(allowed)
    return _Packing(int(word_real.sum()), rows, inputs, length, key_mask.contiguous())


def _layer(
    layer: LayerParts, hidden: torch.Tensor, packing: _Packing, read: torch.Tensor | None
) -> torch.Tensor:
    """One ``LukeLayer`` over packed rows; with ``read``, only those rows come out."""
    context = _attention(layer.attention, hidden, packing)
    if read is not None:
        context, hidden = context[read], hidden[read]
    attended = layer.attention_output(context, hidden)
    output: torch.Tensor = layer.output(layer.intermediate(attended), attended)
    return output


def _attention(attention: AttentionParts, hidden: torch.Tensor, packing: _Packing) -> torch.Tensor:
    heads, head_dim = attention.heads, attention.head_dim
    rows, words = hidden.size(0), packing.words

    def split(states: torch.Tensor) -> torch.Tensor:
        return states.view(states.size(0), heads, head_dim)

    key, value = split(attention.key(hidden)), split(attention.value(hidden))
    slots = packing.inputs * packing.length
    # The padded buffers take the products' dtype: under autocast, narrower than ``hidden``'s.
    if attention.entity_queries is not None:
        w2e_query, e2w_query, e2e_query = attention.entity_queries
        # Each head's query is [q_w2w | q_w2e] for a word and [q_e2w | q_e2e] for a span,
        # its key [k | 0] for a word and [0 | k] for a span: one product over the doubled
        # head dimension gives exactly the score transformers picks from its four.
        width = 2
        padded_query = key.new_zeros((slots, heads, 2, head_dim))
        for part, first, second in (
            (slice(None, words), attention.query, w2e_query),
            (slice(words, None), e2w_query, e2e_query),
        ):
            states, part_rows = hidden[part], packing.rows[part]
            padded_query[part_rows, :, 0] = split(first(states))
            padded_query[part_rows, :, 1] = split(second(states))
        padded_key = key.new_zeros((slots, heads, 2, head_dim))
        padded_key[packing.rows[:words], :, 0] = key[:words]
        padded_key[packing.rows[words:], :, 1] = key[words:]
    else:
        width = 1
        padded_query = key.new_zeros((slots, heads, 1, head_dim))
        padded_query[packing.rows, :, 0] = split(attention.query(hidden))
        padded_key = key.new_zeros((slots, heads, 1, head_dim))
        padded_key[packing.rows, :, 0] = key
    # The fused CPU kernel needs values as wide as keys (else SDPA takes its unfused path);
    # the extra output columns are dropped.
    padded_value = key.new_zeros((slots, heads, width, head_dim))
    padded_value[packing.rows, :, 0] = value

    def per_input(padded: torch.Tensor) -> torch.Tensor:
        return padded.view(packing.inputs, packing.length, heads, width * head_dim).transpose(1, 2)

    dropout = attention.dropout
    context = F.scaled_dot_product_attention(
        per_input(padded_query),
        per_input(padded_key),
        per_input(padded_value),
        attn_mask=packing.key_mask,
        dropout_p=float(dropout.p) if dropout.training else 0.0,
        scale=1.0 / math.sqrt(head_dim),
    )
    context = context.transpose(1, 2).reshape(slots, heads, width * head_dim)
    return context[packing.rows, :, :head_dim].reshape(rows, heads * head_dim)
