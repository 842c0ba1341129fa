"""Running a span model over documents: encode, batch, forward, decode, in input order."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch

from lukener.batching import ChunkCollator
from lukener.decoding import ScoredSpan, decode_spans
from lukener.documents import Document, Entity, Example
from lukener.errors import LukenerError
from lukener.model import SpanModel
from lukener.settings import DEFAULT_BATCH_TOKENS
from lukener.span_encoding import EncodingStats, SpanChunk, SpanEncoder


@dataclass
class _Pending:
    document: Document
    chunks: list[SpanChunk]
    scored: list[list[ScoredSpan] | None] = field(default_factory=list)

    def done(self) -> bool:
        return all(s is not None for s in self.scored)


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
WINDOW_BATCHES = 8


@dataclass(frozen=True)
class RunOptions:
    """How to run a model over documents (not how to encode them)."""

    batch_size: int = 32
    max_batch_tokens: int = DEFAULT_BATCH_TOKENS
    nested: bool = False
    precision: str = "fp32"
    compile_model: bool = False

    def predictor(self, span_model: SpanModel, nested: bool | None = None) -> Predictor:
        return Predictor(
            span_model,
            batch_size=self.batch_size,
            nested=self.nested if nested is None else nested,
            max_batch_tokens=self.max_batch_tokens,
            precision=self.precision,
            compile_model=self.compile_model,
        )


class Predictor:
    """Tags documents with a span model; :attr:`stats` says what could not be encoded.

    Chunks are batched by a token budget: a window of pending chunks (``WINDOW_BATCHES``
    batches' worth, so memory stays flat however long the input) is sorted by length and
    cut into batches of at most ``batch_size`` chunks and ``max_batch_tokens`` padded
    tokens (words plus spans). Results come back in input order.
    """

    def __init__(
        self,
        span_model: SpanModel,
        batch_size: int = 32,
        nested: bool = False,
        max_batch_tokens: int = DEFAULT_BATCH_TOKENS,
        precision: str = "fp32",
        compile_model: bool = False,
    ):
        if precision not in PRECISIONS:
            raise LukenerError(f"precision must be one of {', '.join(PRECISIONS)}")
        self.span_model = span_model
        self.precision = precision
        self.forward = span_model.model
        if compile_model:
            self.forward = torch.compile(span_model.model)
        self.encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
        self.collator = collator_for(span_model)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
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
            if len(queue) >= WINDOW_BATCHES * self.batch_size:
                self._run_window(queue)
                queue.clear()
            yield from self._finished(pending, progress)
        self._run_window(queue)
        yield from self._finished(pending, progress)

    def _run_window(self, queue: list[tuple[_Pending, int]]) -> None:
        """Run every queued chunk, shortest first, in batches within the budgets."""

        def size(entry: tuple[_Pending, int]) -> tuple[int, int]:
            chunk = entry[0].chunks[entry[1]]
            return len(chunk.input_ids), len(chunk.char_spans)

        batch: list[tuple[_Pending, int]] = []
        longest = (0, 0)  # words, spans: the batch pads to both
        for entry in sorted(queue, key=size):
            words, spans = size(entry)
            grown = (max(longest[0], words), max(longest[1], spans))
            if batch and (
                len(batch) == self.batch_size
                or (len(batch) + 1) * sum(grown) > self.max_batch_tokens
            ):
                self._run(batch)
                batch, grown = [], (words, spans)
            batch.append(entry)
            longest = grown
        if batch:
            self._run(batch)

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
        self.span_model.model.eval()
        chunks = [item.chunks[i] for item, i in batch]
        device = self.span_model.device
        inputs = {k: v.to(device) for k, v in self.collator(chunks).items()}
        with torch.autocast(
            device.type, dtype=PRECISIONS[self.precision], enabled=self.precision != "fp32"
        ):
            logits = self.forward(**inputs).logits
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
