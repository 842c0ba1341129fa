"""Exact inference and training for LUKE span models with no padding in the matrix products.

transformers' ``LukeForEntitySpanClassification`` pads every input of a batch to the most
words and the most spans of the batch, and all of its layers compute the padding. Here the
real tokens of a batch (every input's words, then every input's spans) are packed into one
matrix: the query, key and value products, the output and feed-forward layers and the
classifier run over those rows only, as one large product each. Only attention needs each
input's tokens side by side: per layer they are scattered into a padded
``(inputs, length)`` layout for one ``scaled_dot_product_attention`` call, with the
entity-aware heads widened (widened_heads.py), and gathered back. In the last layer
only the rows the classifier reads (spans, and the words where spans start or end) go through
the output and feed-forward layers.

Without gradients on a CPU (predict, evaluate), attention is computed as its four blocks
instead (word and span queries each against word and span keys; the keys and values laid out
per input once for both), each by the fused kernel, which also returns each row's
log-sum-exp of scores; two blocks of a row join as their softmax weights say. That is half the
products of the widened heads (inputs in document context are mostly words), and in the last
layer only the words the classifier reads are queries. Training keeps the
widened heads: the kernel's log-sum-exp carries no gradient.

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
from lukener.modeling.widened_heads import span_key, widened, word_key

__all__ = ["PackedSpanClassifier"]


@dataclass(frozen=True)
class _Packing:
    """Where each packed row lives in the padded attention layout, and what attends."""

    words: int  # packed rows 0..words-1 are words, the rest spans
    rows: torch.Tensor  # (packed rows,) index into the flattened (inputs * length) layout
    inputs: int
    length: int
    word_length: int  # words per input in the padded layout; the rest of ``length`` spans
    # index of each packed word row into the flattened (inputs * word_length) layout, and of
    # each span row into (inputs * spans per input)
    word_slots: torch.Tensor
    span_slots: torch.Tensor
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
        read = _Read(
            torch.unique(torch.cat([starts, ends])),
            torch.arange(packing.words, hidden.size(0), device=hidden.device),
        )

        layers = parts.layers
        for number, layer in enumerate(layers):
            hidden = _layer(layer, hidden, packing, read if number == len(layers) - 1 else None)

        # ``hidden`` now holds the ``read`` rows only.
        position = torch.full((packing.rows.numel(),), -1, dtype=torch.long, device=hidden.device)
        rows = read.rows()
        position[rows] = torch.arange(rows.numel(), device=rows.device)
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
    word_slots = torch.arange(word_real.numel(), device=word_real.device)[word_real.flatten()]
    span_slots = torch.arange(entity_real.numel(), device=word_real.device)
    span_slots = span_slots[entity_real.flatten()]
    key_mask = torch.cat([word_real, entity_real & entity_attended], dim=1)[:, None, None, :]
    span_words = None
    if span_attention == "inside" and entity_position_ids is not None:
        span_words = inside_words(entity_position_ids, word_length)
    allowed = allowed_attention(span_attention, word_length, length, word_real.device, span_words)
    if allowed is not None:
        key_mask = key_mask & per_input(allowed)
    return _Packing(
        int(word_real.sum()),
        rows,
        inputs,
        length,
        word_length,
        word_slots,
        span_slots,
        key_mask.contiguous(),
    )


@dataclass(frozen=True)
class _Read:
    """The packed rows the classifier reads after the last layer: words (sorted) and spans."""

    words: torch.Tensor
    spans: torch.Tensor

    def rows(self) -> torch.Tensor:
        return torch.cat([self.words, self.spans])


def _layer(
    layer: LayerParts, hidden: torch.Tensor, packing: _Packing, read: _Read | None
) -> torch.Tensor:
    """One ``LukeLayer`` over packed rows; with ``read``, only those rows come out."""
    if _blockwise(layer.attention, hidden, packing):
        context = _blockwise_attention(layer.attention, hidden, packing, read)
    else:
        context = _attention(layer.attention, hidden, packing)
        if read is not None:
            context = context[read.rows()]
    if read is not None:
        hidden = hidden[read.rows()]
    attended = layer.attention_output(context, hidden)
    output: torch.Tensor = layer.output(layer.intermediate(attended), attended)
    return output


# The CPU flash-attention kernel with each row's log-sum-exp of scores (a private torch op:
# absent from a build, the widened heads serve).
_FLASH_WITH_LSE = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)


def _blockwise(attention: AttentionParts, hidden: torch.Tensor, packing: _Packing) -> bool:
    """Whether this layer's attention goes block by block: entity-aware queries, every query
    of an input allowed the same keys (``full`` span attention), no gradient, no dropout, on a
    CPU."""
    return (
        _FLASH_WITH_LSE is not None
        and attention.entity_queries is not None
        and packing.key_mask.size(2) == 1
        and packing.length > packing.word_length
        and hidden.device.type == "cpu"
        and not torch.is_grad_enabled()
        and not attention.dropout.training
    )


def _blockwise_attention(
    attention: AttentionParts, hidden: torch.Tensor, packing: _Packing, read: _Read | None
) -> torch.Tensor:
    """The context of every packed row (of ``read``'s rows, when given), from the four
    blocks of entity-aware attention, each query set against each key set."""
    assert _FLASH_WITH_LSE is not None
    assert attention.entity_queries is not None
    heads, head_dim = attention.heads, attention.head_dim
    words, inputs = packing.words, packing.inputs
    word_length = packing.word_length
    span_length = packing.length - word_length
    w2e_query, e2w_query, e2e_query = attention.entity_queries

    def laid_out(states: torch.Tensor, slots: torch.Tensor, length: int) -> torch.Tensor:
        buffer = states.new_zeros((inputs * length, heads, head_dim))
        buffer[slots] = states.view(-1, heads, head_dim)
        return buffer.view(inputs, length, heads, head_dim).transpose(1, 2)

    def packed(context: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        return context.transpose(1, 2).reshape(-1, heads * head_dim)[slots]

    key, value = attention.key(hidden), attention.value(hidden)
    word_keys = laid_out(key[:words], packing.word_slots, word_length)
    word_values = laid_out(value[:words], packing.word_slots, word_length)
    span_keys = laid_out(key[words:], packing.span_slots, span_length)
    span_values = laid_out(value[words:], packing.span_slots, span_length)
    # Additive masks in the products' dtype, as the kernel takes them; the lowest finite
    # value (not -inf) keeps a row with no key in a block finite, its weight exactly zero.
    allowed = packing.key_mask
    blocked = torch.zeros(allowed.shape, dtype=key.dtype, device=key.device)
    blocked = blocked.masked_fill(~allowed, torch.finfo(key.dtype).min)
    word_mask, span_mask = blocked[..., :word_length], blocked[..., word_length:]
    scale = 1.0 / math.sqrt(head_dim)

    def joined(queries: torch.Tensor, second_queries: torch.Tensor) -> torch.Tensor:
        to_words, to_words_lse = _FLASH_WITH_LSE(
            queries, word_keys, word_values, attn_mask=word_mask, scale=scale
        )
        to_spans, to_spans_lse = _FLASH_WITH_LSE(
            second_queries, span_keys, span_values, attn_mask=span_mask, scale=scale
        )
        # Each block is softmax-normalised over its own keys; over both, block b's share
        # of a row is exp(lse_b) / (exp(lse_words) + exp(lse_spans)).
        share = torch.sigmoid(to_words_lse - to_spans_lse).unsqueeze(-1)
        joint: torch.Tensor = to_words * share + to_spans * (1 - share)
        return joint.to(to_words.dtype)

    word_rows, query_slots, query_length = _word_queries(packing, read)
    word_states = hidden[word_rows]
    word_context = joined(
        laid_out(attention.query(word_states), query_slots, query_length),
        laid_out(w2e_query(word_states), query_slots, query_length),
    )
    span_states = hidden[words:]
    span_context = joined(
        laid_out(e2w_query(span_states), packing.span_slots, span_length),
        laid_out(e2e_query(span_states), packing.span_slots, span_length),
    )
    return torch.cat([packed(word_context, query_slots), packed(span_context, packing.span_slots)])


def _word_queries(
    packing: _Packing, read: _Read | None
) -> tuple[torch.Tensor | slice, torch.Tensor, int]:
    """The packed word rows that are queries (all, or ``read``'s), each one's slot in a
    per-input layout of queries, and that layout's length."""
    if read is None:
        return slice(0, packing.words), packing.word_slots, packing.word_length
    owners = packing.word_slots[read.words] // packing.word_length
    counts = torch.bincount(owners, minlength=packing.inputs)
    length = max(int(counts.max()), 1) if counts.numel() else 1
    first = torch.cumsum(counts, dim=0) - counts
    rank = torch.arange(owners.numel(), device=owners.device) - first[owners]
    return read.words, owners * length + rank, length


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
        # The widened heads (widened_heads.py): one product per head gives exactly the score
        # transformers picks from its four.
        width = 2
        padded_query = key.new_zeros((slots, heads, 2, head_dim))
        for part, first, second in (
            (slice(None, words), attention.query, w2e_query),
            (slice(words, None), e2w_query, e2e_query),
        ):
            states, part_rows = hidden[part], packing.rows[part]
            padded_query[part_rows] = widened(split(first(states)), split(second(states)))
        padded_key = key.new_zeros((slots, heads, 2, head_dim))
        padded_key[packing.rows[:words]] = word_key(key[:words])
        padded_key[packing.rows[words:]] = span_key(key[words:])
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
