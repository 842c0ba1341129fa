"""Grouping span chunks into batches, and padding them into model-ready tensors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lukener.spans.encoded import SpanChunk

IGNORE_INDEX = -100


@dataclass(frozen=True)
class ChunkCollator:
    """Pads words to the longest input and spans to the most spans in the batch.

    ``legacy_entity_mask`` reproduces the mask of the original LUKE training code,
    ``entity_ids != 0`` (padding entities still masked): all zeros when ``[MASK]`` is 0.
    """

    pad_token_id: int
    entity_mask_id: int
    entity_pad_id: int
    max_mention_length: int
    legacy_entity_mask: bool = False

    def __call__(self, items: Sequence[SpanChunk | Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        # Training items are mappings ({"input_ids", "chunk"}) so that the Trainer can
        # group them by length; inference passes chunks.
        chunks = [item["chunk"] if isinstance(item, Mapping) else item for item in items]
        size = len(chunks)
        words = max(len(c.input_ids) for c in chunks)
        spans = max(1, max(len(c.char_spans) for c in chunks))
        input_ids = torch.full((size, words), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((size, words), dtype=torch.long)
        entity_ids = torch.full((size, spans), self.entity_pad_id, dtype=torch.long)
        entity_attention_mask = torch.zeros((size, spans), dtype=torch.long)
        entity_position_ids = torch.full(
            (size, spans, self.max_mention_length), -1, dtype=torch.long
        )
        starts = torch.zeros((size, spans), dtype=torch.long)
        ends = torch.zeros((size, spans), dtype=torch.long)
        with_labels = all(c.labels is not None for c in chunks)
        labels = torch.full((size, spans), IGNORE_INDEX, dtype=torch.long)
        for row, chunk in enumerate(chunks):
            n_words, n_spans = len(chunk.input_ids), len(chunk.char_spans)
            input_ids[row, :n_words] = torch.tensor(chunk.input_ids)
            attention_mask[row, :n_words] = 1
            if n_spans == 0:
                continue
            entity_ids[row, :n_spans] = self.entity_mask_id
            entity_attention_mask[row, :n_spans] = 1
            entity_position_ids[row, :n_spans] = torch.tensor(chunk.entity_position_ids)
            starts[row, :n_spans] = torch.tensor(chunk.entity_start_positions)
            ends[row, :n_spans] = torch.tensor(chunk.entity_end_positions)
            if with_labels and chunk.labels is not None:
                labels[row, :n_spans] = torch.tensor(chunk.labels)
        if self.legacy_entity_mask:
            entity_attention_mask = entity_attention_mask * (entity_ids != 0).long()
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "entity_ids": entity_ids,
            "entity_attention_mask": entity_attention_mask,
            "entity_position_ids": entity_position_ids,
            "entity_start_positions": starts,
            "entity_end_positions": ends,
        }
        if with_labels:
            batch["labels"] = labels
        return batch


def plan_batches(
    sizes: Sequence[tuple[int, int]],
    batch_size: int,
    max_batch_tokens: int,
    max_padding: float,
) -> list[list[int]]:
    """Indices of ``sizes`` (words, spans per chunk) grouped into batches, shortest first.

    A batch pads every chunk to its most words and its most spans, so a batch is closed
    before it would hold more than ``batch_size`` chunks, more than ``max_batch_tokens``
    padded tokens, or more than ``max_padding`` times its real tokens in padding (the padded
    layout bounds memory; at inference only attention computes the padding).
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    words = spans = real = 0
    for index in sorted(range(len(sizes)), key=sizes.__getitem__):
        n_words, n_spans = sizes[index]
        grown_words, grown_spans = max(words, n_words), max(spans, n_spans)
        padded = (len(batch) + 1) * (grown_words + grown_spans)
        if batch and (
            len(batch) == batch_size
            or padded > max_batch_tokens
            or padded > (1 + max_padding) * (real + n_words + n_spans)
        ):
            batches.append(batch)
            batch, real = [], 0
            grown_words, grown_spans = n_words, n_spans
        batch.append(index)
        words, spans = grown_words, grown_spans
        real += n_words + n_spans
    if batch:
        batches.append(batch)
    return batches
