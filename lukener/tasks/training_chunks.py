"""The training inputs of the span model, its non-entity spans drawn once or each epoch.

With ``--negative-rate`` below 1 the span model trains on every gold span and a share of the
non-entity ones. Drawn once, the same share is seen every epoch and the rest never; drawn
anew each epoch, three epochs at a quarter see well over half of them. Each window keeps the
same number of negatives in every draw, so the chunks, their lengths and the step count do
not change between epochs (nor the length-grouped batches).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import torch

from lukener.data.documents import Document
from lukener.spans.encoded import EncodingStats, SpanChunk, WindowSpans
from lukener.spans.encoding import SpanEncoder


class TrainingChunks(torch.utils.data.Dataset[dict[str, Any]]):
    """Every training chunk of ``documents`` as ``{"input_ids", "chunk"}``.

    ``fresh_negatives`` redraws each window's negatives when :meth:`set_epoch` moves to a
    new epoch, from a generator seeded by ``(seed, epoch, window)``: every process of a
    distributed run, and a resumed run, draws the same spans. Otherwise the encoder's own
    draw (its seeded generator) serves every epoch.
    """

    def __init__(
        self,
        encoder: SpanEncoder,
        documents: Sequence[Document],
        fresh_negatives: bool,
        seed: int,
    ):
        self.encoder = encoder
        self.seed = seed
        self.stats = EncodingStats()
        self.windows: list[WindowSpans] = []
        for document in documents:
            windows, stats = encoder.encode_windows(document)
            self.windows.extend(windows)
            self.stats.add(stats)
        self.fresh = fresh_negatives and any(w.kept_negatives < w.negatives for w in self.windows)
        self.epoch = 0
        # Epoch 0's draw; every later draw makes as many chunks of each window.
        self._drawn = {w: self._draw(w) for w in range(len(self.windows))}
        self.index = [(w, part) for w, chunks in self._drawn.items() for part in range(len(chunks))]
        self.stats.chunks = len(self.index)
        if not self.fresh:
            self.windows = []  # every candidate span of the corpus: not needed again

    def set_epoch(self, epoch: int) -> None:
        if self.fresh and epoch != self.epoch:
            self.epoch = epoch
            self._drawn.clear()

    def _draw(self, w: int) -> list[SpanChunk]:
        generator = (
            random.Random(f"{self.seed}/{self.epoch}/{w}") if self.fresh else self.encoder.random
        )
        return self.encoder.draw(self.windows[w], generator)

    def chunk(self, index: int) -> SpanChunk:
        w, part = self.index[index]
        if w not in self._drawn:
            self._drawn[w] = self._draw(w)
        return self._drawn[w][part]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        chunk = self.chunk(index)
        # A mapping, so that the Trainer can group the inputs by length.
        return {"input_ids": chunk.input_ids, "chunk": chunk}


def epoch_of(state_epoch: float | None) -> int:
    """The epoch the Trainer is starting: its state counts finished epochs (a fraction
    after a resume mid-epoch), so the floor is the one under way."""
    return math.floor(state_epoch or 0.0)


def redraw_callback(chunks: TrainingChunks) -> Any:
    """A ``TrainerCallback`` that moves ``chunks`` to each epoch as it begins (before the
    Trainer iterates its data loader, so loader workers copy the new draw)."""
    from transformers import TrainerCallback

    class RedrawNegatives(TrainerCallback):
        def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            chunks.set_epoch(epoch_of(state.epoch))

    return RedrawNegatives()
