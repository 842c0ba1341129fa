"""Negatives drawn afresh each epoch: same chunks and steps, every gold span, new
non-entity spans, reproducible draws, and the Trainer moving the draw each epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from lukener.data.documents import read_jsonl
from lukener.spans.encoding import SpanEncoder
from lukener.spans.settings import EncodingSettings
from lukener.tasks import training_chunks
from lukener.tasks.training_chunks import TrainingChunks, epoch_of


def _chunks(wnut_small: Path, luke_tokenizer, fresh: bool, seed: int = 7) -> TrainingChunks:
    documents = list(read_jsonl(wnut_small))
    labels = sorted({e.label for d in documents for x in d.examples for e in x.entities})
    label2id = {label: i + 1 for i, label in enumerate(labels)}
    encoder = SpanEncoder(
        luke_tokenizer, EncodingSettings(max_mention_length=8), label2id, 0.25, seed
    )
    return TrainingChunks(encoder, documents, fresh, seed)


def _epoch(chunks: TrainingChunks) -> list[tuple[list[int], list[tuple[int, int]], list[int]]]:
    return [
        (c.input_ids, c.char_spans, list(c.labels or []))
        for c in (chunks.chunk(i) for i in range(len(chunks)))
    ]


def _spans(epoch, positive: bool) -> set[tuple[int, tuple[int, int]]]:
    return {
        (i, span)
        for i, (_, spans, labels) in enumerate(epoch)
        for span, label in zip(spans, labels, strict=True)
        if (label > 0) == positive
    }


def test_each_epoch_draws_new_negatives_in_the_same_chunks(wnut_small, luke_tokenizer) -> None:
    chunks = _chunks(wnut_small, luke_tokenizer, fresh=True)
    epochs = []
    for epoch in range(3):
        chunks.set_epoch(epoch)
        epochs.append(_epoch(chunks))
    first, second, third = epochs
    assert len(chunks) == chunks.stats.chunks
    # The same inputs with as many spans each: batches and steps do not change.
    for other in (second, third):
        assert [(ids, len(spans)) for ids, spans, _ in other] == [
            (ids, len(spans)) for ids, spans, _ in first
        ]
        assert _spans(other, positive=True) == _spans(first, positive=True)
    assert _spans(first, positive=True)
    negatives = [_spans(epoch, positive=False) for epoch in epochs]
    assert negatives[0] != negatives[1]
    assert len(negatives[0] | negatives[1] | negatives[2]) > 1.5 * len(negatives[0])
    # The draw is a function of (seed, epoch, window): another process, or a resumed run,
    # trains on the same spans.
    again = _chunks(wnut_small, luke_tokenizer, fresh=True)
    again.set_epoch(1)
    assert _epoch(again) == second


def test_fixed_negatives_are_the_same_every_epoch(wnut_small, luke_tokenizer) -> None:
    chunks = _chunks(wnut_small, luke_tokenizer, fresh=False)
    first = _epoch(chunks)
    chunks.set_epoch(1)
    assert _epoch(chunks) == first
    assert chunks.fresh is False


@pytest.mark.parametrize(("state", "epoch"), [(None, 0), (0.0, 0), (1.0, 1), (1.75, 1)])
def test_the_epoch_under_way_is_the_floor_of_the_trainers(state, epoch) -> None:
    assert epoch_of(state) == epoch


def test_training_moves_the_draw_to_each_epoch(
    invoke, tiny_luke, wnut_small, tmp_path, monkeypatch
) -> None:
    seen: list[int] = []
    original = training_chunks.TrainingChunks.set_epoch

    def recording(self: TrainingChunks, epoch: int) -> None:
        seen.append(epoch)
        original(self, epoch)

    monkeypatch.setattr(training_chunks.TrainingChunks, "set_epoch", recording)
    result = invoke(
        "train", "--train", wnut_small, "--model", tiny_luke, "--output-dir", tmp_path / "run",
        "--epochs", "2", "--batch-size", "16", "--negative-rate", "0.5", "--group-by-length",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # (accelerate's loader may pass the epoch on too: repeats change nothing)
    assert list(dict.fromkeys(seen)) == [0, 1]


def test_the_callback_moves_the_draw_where_the_loader_does_not(wnut_small, luke_tokenizer) -> None:
    # Under several processes the loader hands the epoch to its distributed sampler only,
    # never to the dataset: the callback is what moves the draw there.
    from types import SimpleNamespace

    chunks = _chunks(wnut_small, luke_tokenizer, fresh=True)
    before = _epoch(chunks)
    training_chunks.redraw_callback(chunks).on_epoch_begin(None, SimpleNamespace(epoch=2.0), None)
    assert chunks.epoch == 2
    assert _epoch(chunks) != before
