"""Exact inference for LUKE span models with no padding in the matrix products.

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
transformers' within 1e-5 in fp32. Keys are fused with values, and each pair of
entity-aware queries into one product, with weights made once and remade when the model's
parameters change. On a CPU in fp32 the products go to oneDNN, which PyTorch ships and its
compiler uses, with the GELU applied in the same pass: on the AMD EPYC this was measured on,
MKL (PyTorch's default for ``F.linear``) reached about 150 GFLOPS and oneDNN about 200.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PackedSpanClassifier"]


@dataclass(frozen=True)
class _Packing:
    """Where each packed row lives in the padded attention layout, and what attends."""

    words: int  # packed rows 0..words-1 are words, the rest spans
    rows: torch.Tensor  # (packed rows,) index into the flattened (inputs * length) layout
    inputs: int
    length: int
    key_mask: torch.Tensor  # (inputs, 1, 1, length) bool: may be attended to


Linear = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class _LayerWeights:
    key_value: Linear
    word_query: Linear
    entity_query: Linear | None
    attention_output: Linear
    attention_norm: nn.Module
    intermediate: Linear
    activation: Callable[[torch.Tensor], torch.Tensor] | None  # None: GELU (erf)
    output: Linear
    output_norm: nn.Module


def matrix_product(
    states: torch.Tensor, weights: Linear, gelu: bool = False, onednn: bool = False
) -> torch.Tensor:
    """``F.linear`` (then GELU), by oneDNN in one pass where ``onednn``."""
    if onednn:
        attribute, algorithm = ("gelu", "none") if gelu else ("none", "")
        result: torch.Tensor = torch.ops.mkldnn._linear_pointwise(
            states, *weights, attribute, [], algorithm
        )
        return result
    product = F.linear(states, *weights)
    return F.gelu(product) if gelu else product


@cache
def onednn_products_work() -> bool:
    """Whether this PyTorch has oneDNN's fused linear and it gives ``F.linear``'s results.

    A private operator (the one torch.compile uses on CPUs): checked once, never trusted.
    """
    try:
        generator = torch.Generator().manual_seed(0)
        states = torch.randn(5, 8, generator=generator)
        weights = torch.randn(3, 8, generator=generator), torch.randn(3, generator=generator)
        return all(
            torch.allclose(
                matrix_product(states, weights, gelu, onednn=True),
                matrix_product(states, weights, gelu),
                atol=1e-5,
            )
            for gelu in (False, True)
        )
    except (AttributeError, RuntimeError):
        return False


class PackedSpanClassifier:
    """Span logits of a ``LukeForEntitySpanClassification``, computed over packed tokens.

    Called with the padded batch the collator makes (words right-padded, a span being real
    when it has a word position); returns logits shaped like the model's,
    ``(inputs, spans, labels)``, with zeros for padding spans. Inference only: the model must
    be in eval mode (no dropout).
    """

    def __init__(self, model: Any):
        self.model = model
        self.gelu = getattr(model.config, "hidden_act", None) == "gelu"
        self._weights: list[_LayerWeights] = []
        self._versions: list[tuple[int, int]] = []

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
        if self.model.training:
            raise RuntimeError("PackedSpanClassifier computes inference only: call model.eval()")
        luke = self.model.luke
        word_real = attention_mask.bool()
        entity_real = (entity_position_ids != -1).any(dim=-1)
        words = luke.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        # Spans as one input of the real ones: their embedding averages up to 16 positions,
        # which for padding spans would be a large share of the work.
        span_ids = entity_ids[entity_real][None]
        spans = luke.entity_embeddings(
            span_ids, entity_position_ids[entity_real][None], torch.zeros_like(span_ids)
        )
        hidden = torch.cat([words[word_real], spans[0]])
        packing = _packing(word_real, entity_real, entity_attention_mask.bool())
        onednn = (
            hidden.device.type == "cpu"
            and hidden.dtype == torch.float32
            and not torch.is_autocast_enabled("cpu")
            and onednn_products_work()
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

        layers = luke.encoder.layer
        for number, (layer, weights) in enumerate(zip(layers, self._layer_weights(), strict=True)):
            last = number == len(layers) - 1
            hidden = _layer(layer, weights, hidden, packing, read if last else None, onednn)

        # ``hidden`` now holds the ``read`` rows only.
        position = torch.full((packing.rows.numel(),), -1, dtype=torch.long, device=read.device)
        position[read] = torch.arange(read.numel(), device=read.device)
        spans = hidden[position[packing.words :]]
        features = torch.cat([hidden[position[starts]], hidden[position[ends]], spans], dim=-1)
        classifier = self.model.classifier
        span_logits = matrix_product(features, (classifier.weight, classifier.bias), onednn=onednn)
        logits = span_logits.new_zeros((*entity_real.shape, span_logits.size(-1)))
        logits[entity_real] = span_logits
        return logits

    def _layer_weights(self) -> list[_LayerWeights]:
        """Fused weights of every layer, remade if any parameter changed since."""
        versions = [(p.data_ptr(), p._version) for p in self.model.parameters()]
        if versions != self._versions:
            with torch.no_grad():
                self._weights = [_fuse(layer, self.gelu) for layer in self.model.luke.encoder.layer]
            self._versions = versions
        return self._weights


def _packing(
    word_real: torch.Tensor, entity_real: torch.Tensor, entity_attended: torch.Tensor
) -> _Packing:
    inputs, word_length = word_real.shape
    length = word_length + entity_real.size(1)
    real = torch.cat([word_real, entity_real], dim=1)
    flat = torch.arange(inputs * length, device=real.device).view(inputs, length)
    rows = torch.cat([flat[:, :word_length][word_real], flat[:, word_length:][entity_real]])
    key_mask = torch.cat([word_real, entity_real & entity_attended], dim=1)
    return _Packing(
        int(word_real.sum()), rows, inputs, length, key_mask[:, None, None, :].contiguous()
    )


def _fuse(layer: Any, gelu: bool) -> _LayerWeights:
    attention = layer.attention.self
    entity_aware = attention.use_entity_aware_attention
    return _LayerWeights(
        key_value=_joined(attention.key, attention.value),
        word_query=_joined(attention.query, attention.w2e_query)
        if entity_aware
        else _weights(attention.query),
        entity_query=_joined(attention.e2w_query, attention.e2e_query) if entity_aware else None,
        attention_output=_weights(layer.attention.output.dense),
        attention_norm=layer.attention.output.LayerNorm,
        intermediate=_weights(layer.intermediate.dense),
        activation=None if gelu else layer.intermediate.intermediate_act_fn,
        output=_weights(layer.output.dense),
        output_norm=layer.output.LayerNorm,
    )


def _weights(layer: nn.Linear) -> Linear:
    if layer.bias is None:
        raise ValueError("packed inference needs linear layers with a bias, as LUKE's have")
    return layer.weight.contiguous(), layer.bias


def _joined(first: nn.Linear, second: nn.Linear) -> Linear:
    """One product for two layers over the same input: first's outputs, then second's."""
    (first_weight, first_bias), (second_weight, second_bias) = _weights(first), _weights(second)
    return torch.cat([first_weight, second_weight]), torch.cat([first_bias, second_bias])


def _layer(
    layer: Any,
    weights: _LayerWeights,
    hidden: torch.Tensor,
    packing: _Packing,
    read: torch.Tensor | None,
    onednn: bool,
) -> torch.Tensor:
    """One ``LukeLayer`` (in eval mode: no dropout) over packed rows; with ``read``, only
    those rows come out."""
    context = _attention(layer.attention.self, weights, hidden, packing, onednn)
    if read is not None:
        context, hidden = context[read], hidden[read]
    product = matrix_product(context, weights.attention_output, onednn=onednn)
    attended = weights.attention_norm(product + hidden)
    if weights.activation is None:
        intermediate = matrix_product(attended, weights.intermediate, gelu=True, onednn=onednn)
    else:
        intermediate = weights.activation(
            matrix_product(attended, weights.intermediate, onednn=onednn)
        )
    product = matrix_product(intermediate, weights.output, onednn=onednn)
    output: torch.Tensor = weights.output_norm(product + attended)
    return output


def _attention(
    attention: Any, weights: _LayerWeights, hidden: torch.Tensor, packing: _Packing, onednn: bool
) -> torch.Tensor:
    heads, head_dim = attention.num_attention_heads, attention.attention_head_size
    rows, words = hidden.size(0), packing.words
    key, value = (
        matrix_product(hidden, weights.key_value, onednn=onednn)
        .view(rows, 2, heads, head_dim)
        .unbind(1)
    )
    slots = packing.inputs * packing.length
    # Autocast may have made the products narrower than ``hidden``.
    if weights.entity_query is None:
        width = 1
        query = matrix_product(hidden, weights.word_query, onednn=onednn).view(
            rows, 1, heads, head_dim
        )
        padded_query = key.new_zeros((slots, heads, 1, head_dim))
        padded_query[packing.rows] = query.transpose(1, 2)
        padded_key = key.new_zeros((slots, heads, 1, head_dim))
        padded_key[packing.rows, :, 0] = key
    else:
        # Each head's query is [q_w2w | q_w2e] for a word and [q_e2w | q_e2e] for a span,
        # its key [k | 0] for a word and [0 | k] for a span: one product over the doubled
        # head dimension gives exactly the score transformers picks from its four.
        width = 2
        padded_query = key.new_zeros((slots, heads, 2, head_dim))
        for part, part_weights in (
            (slice(None, words), weights.word_query),
            (slice(words, None), weights.entity_query),
        ):
            query = matrix_product(hidden[part], part_weights, onednn=onednn).view(
                -1, 2, heads, head_dim
            )
            padded_query[packing.rows[part]] = query.transpose(1, 2)
        padded_key = key.new_zeros((slots, heads, 2, head_dim))
        padded_key[packing.rows[:words], :, 0] = key[:words]
        padded_key[packing.rows[words:], :, 1] = key[words:]
    # The fused CPU kernel needs values as wide as keys (else SDPA takes its unfused path);
    # the extra output columns are dropped.
    padded_value = key.new_zeros((slots, heads, width, head_dim))
    padded_value[packing.rows, :, 0] = value

    def per_input(padded: torch.Tensor) -> torch.Tensor:
        return padded.view(packing.inputs, packing.length, heads, width * head_dim).transpose(1, 2)

    context = F.scaled_dot_product_attention(
        per_input(padded_query),
        per_input(padded_key),
        per_input(padded_value),
        attn_mask=packing.key_mask,
        scale=1.0 / math.sqrt(head_dim),
    )
    context = context.transpose(1, 2).reshape(slots, heads, width * head_dim)
    return context[packing.rows, :, :head_dim].reshape(rows, heads * head_dim)
