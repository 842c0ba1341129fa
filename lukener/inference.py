"""Running a span model over documents: encode, batch, forward, decode, in input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch

from lukener.batching import ChunkCollator
from lukener.decoding import ScoredSpan, decode_spans
from lukener.documents import Document, Entity, Example
from lukener.model import SpanModel
from lukener.span_encoding import EncodingStats, SpanChunk, SpanEncoder


@dataclass
class _Pending:
    document: Document
    chunks: list[SpanChunk]
    scored: list[list[ScoredSpan] | None] = field(default_factory=list)

    def done(self) -> bool:
        return all(s is not None for s in self.scored)


class Predictor:
    """Tags documents with a span model; :attr:`stats` says what could not be encoded."""

    def __init__(self, span_model: SpanModel, batch_size: int = 32, nested: bool = False):
        self.span_model = span_model
        self.encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
        self.collator = collator_for(span_model)
        self.batch_size = batch_size
        self.nested = nested
        self.stats = EncodingStats()

    def predict(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> Iterator[Document]:
        """Predicted documents, in input order, as soon as each is complete.

        ``progress`` is called with the number of sentences of each finished document.
        """
        pending: deque[_Pending] = deque()
        queue: list[tuple[_Pending, int]] = []
        for document in documents:
            chunks, stats = self.encoder.encode_document(document)
            self.stats.add(stats)
            item = _Pending(document, chunks, [None] * len(chunks))
            pending.append(item)
            queue.extend((item, i) for i in range(len(chunks)))
            while len(queue) >= self.batch_size:
                self._run(queue[: self.batch_size])
                del queue[: self.batch_size]
            yield from self._finished(pending, progress)
        if queue:
            self._run(queue)
        yield from self._finished(pending, progress)

    def _finished(
        self, pending: deque[_Pending], progress: Callable[[int], None] | None
    ) -> Iterator[Document]:
        while pending and pending[0].done():
            item = pending.popleft()
            if progress is not None:
                progress(len(item.document.examples))
            yield self._assemble(item)

    @torch.inference_mode()
    def _run(self, batch: list[tuple[_Pending, int]]) -> None:
        model = self.span_model.model
        model.eval()
        chunks = [item.chunks[i] for item, i in batch]
        inputs = {k: v.to(self.span_model.device) for k, v in self.collator(chunks).items()}
        logits = model(**inputs).logits
        for (item, i), chunk_logits in zip(batch, logits, strict=True):
            item.scored[i] = score_chunk(item.chunks[i], chunk_logits)

    def _assemble(self, item: _Pending) -> Document:
        scored = [s or [] for s in item.scored]
        return assemble_document(
            item.document, item.chunks, scored, self.span_model.id2label, self.nested
        )


def score_chunk(chunk: SpanChunk, logits: torch.Tensor) -> list[ScoredSpan]:
    """The best label of each span of a chunk from its logits (padding rows ignored)."""
    logits = logits[: len(chunk.char_spans)].float()
    best_logits, best_labels = logits.max(dim=-1)
    probabilities = torch.softmax(logits, dim=-1).gather(-1, best_labels[:, None]).squeeze(-1)
    return [
        ScoredSpan(start, end, label, probability, logit)
        for (start, end), label, probability, logit in zip(
            chunk.char_spans,
            best_labels.tolist(),
            probabilities.tolist(),
            best_logits.tolist(),
            strict=True,
        )
    ]


def assemble_document(
    document: Document,
    chunks: list[SpanChunk],
    scored: list[list[ScoredSpan]],
    id2label: dict[int, str],
    nested: bool = False,
) -> Document:
    """The document with its entities replaced by the decoded predictions."""
    by_example: dict[str, list[ScoredSpan]] = {}
    for chunk, spans in zip(chunks, scored, strict=True):
        by_example.setdefault(chunk.example_id, []).extend(spans)
    examples = []
    for example in document.examples:
        decoded = decode_spans(by_example.get(example.id, []), nested=nested)
        entities = [
            Entity(s.start, s.end, id2label[s.label_id], round(s.probability, 6)) for s in decoded
        ]
        examples.append(Example(example.id, example.text, entities, example.word_positions))
    return Document(document.id, examples)


def collator_for(span_model: SpanModel) -> ChunkCollator:
    tokenizer = span_model.tokenizer
    return ChunkCollator(
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        entity_mask_id=span_model.entity_mask_id,
        entity_pad_id=span_model.entity_pad_id,
        max_mention_length=span_model.settings.max_mention_length,
        legacy_entity_mask=span_model.settings.entity_attention_mask == "legacy",
    )
