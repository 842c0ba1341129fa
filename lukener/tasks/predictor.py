"""Running a span model over documents: encode, batch, forward, decode, in input order."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from lukener.data.documents import Document, Entity, Example
from lukener.modeling.forward_choice import PRECISIONS, choose_inference_forward
from lukener.modeling.span_model import SpanModel
from lukener.spans.batching import ChunkCollator, plan_batches
from lukener.spans.decoding import ScoredSpan, decode_spans
from lukener.spans.encoded import EncodingStats, SpanChunk
from lukener.spans.encoding import SpanEncoder
from lukener.tasks.run_options import RunOptions
from lukener.tasks.threads import configure_threads


@dataclass
class _Pending:
    document: Document
    chunks: list[SpanChunk]
    scored: list[list[ScoredSpan] | None] = field(default_factory=list)

    def done(self) -> bool:
        return all(s is not None for s in self.scored)


# Padded tokens (words plus spans) per inference batch. On a GPU: about 1 GB of LUKE-large
# activations, a few hundred MB for base models; a GPU is far from busy at a CPU's batches.
# On a CPU the budget follows the model's work per token: 1024 tokens keep a
# LUKE-base-sized model (12 layers x 768) at the cores' peak, and larger activations cost
# page faults; a smaller model needs proportionally more tokens per batch to amortise the
# per-batch work around the products. Measured per shape and device by bench/speed/.
GPU_BATCH_SIZE = 256
GPU_BATCH_TOKENS = 65536
CPU_BATCH_SIZE = 32
CPU_BATCH_TOKENS = 1024
CPU_MAX_BATCH_TOKENS = 16384
_REFERENCE_WORK = 12 * 768 * 768  # layers x hidden^2 of the shape 1024 was measured on


def cpu_batch_tokens(config: Any) -> int:
    """The CPU token budget for a model: 1024 scaled by the reference shape's work per token
    over this model's (layers x hidden^2), as a power of two in [1024, 16384]."""
    layers = int(getattr(config, "num_hidden_layers", 12) or 12)
    hidden = int(getattr(config, "hidden_size", 768) or 768)
    scale = _REFERENCE_WORK / max(1, layers * hidden * hidden)
    budget = 2 ** round(math.log2(CPU_BATCH_TOKENS * scale))
    return int(min(CPU_MAX_BATCH_TOKENS, max(CPU_BATCH_TOKENS, budget)))


# Padding an inference batch may add on a CPU, as a share of its real tokens, before it is
# cut. Only attention computes padding (see modeling/packed_inference.py), so some is cheap; on a
# GPU fuller batches pay, and only the token budget cuts them unless told otherwise.
CPU_MAX_PADDING = 1.0

WINDOW_BATCHES = 8


class Predictor:
    """Tags documents with a span model; :attr:`stats` says what could not be encoded.

    Chunks are batched by a token budget: a window of pending chunks (``WINDOW_BATCHES``
    batches' worth, so memory stays flat however long the input) is sorted by length and
    cut into batches of at most ``batch_size`` chunks, ``max_batch_tokens`` padded tokens
    (words plus spans; on a CPU by the model's shape, see :func:`cpu_batch_tokens`; 16384
    elsewhere) and ``max_padding`` padding
    per real token (default: 1.0 on a CPU, no limit elsewhere). Each batch runs through the
    forward that :func:`~lukener.modeling.forward_choice.choose_inference_forward` picks
    (:attr:`chosen_forward` says which and why). Results come back in input order.
    """

    def __init__(self, span_model: SpanModel, run: RunOptions = RunOptions()):
        on_cpu = span_model.device.type == "cpu"
        self.threads = configure_threads(run.threads) if on_cpu else None
        # Chosen after the threads are set: the faster products depend on them.
        chosen = choose_inference_forward(
            span_model,
            precision=run.precision,
            quantize=run.quantize,
            linear_products=run.linear_products,
            compile_model=run.compile_model,
            threads=self.threads,
        )
        span_model = chosen.span_model
        self.span_model = span_model
        self.precision = run.precision
        self.chosen_forward = chosen
        self.linear_products = chosen.linear_products
        self.forward = chosen.forward
        self.encoder = SpanEncoder(span_model.tokenizer, span_model.settings)
        self.collator = collator_for(span_model)
        if span_model.device.type == "cpu":
            default_size, default_padding = CPU_BATCH_SIZE, CPU_MAX_PADDING
            default_tokens = cpu_batch_tokens(span_model.model.config)
        else:
            default_size, default_tokens = GPU_BATCH_SIZE, GPU_BATCH_TOKENS
            default_padding = math.inf
        self.batch_size = run.batch_size or default_size
        self.max_batch_tokens = run.max_batch_tokens or default_tokens
        self.max_padding = default_padding if run.max_padding is None else run.max_padding
        self.nested = run.nested
        self.threshold = run.threshold
        self.stats = EncodingStats()

    def predict(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> Iterator[Document]:
        """Predicted documents, in input order, as soon as each is complete.

        ``progress`` is called with the number of sentences of each finished document.
        """
        for document, candidates in self.predict_candidates(documents, progress):
            yield decoded_document(
                document, candidates, self.span_model.id2label, self.nested, self.threshold
            )

    def predict_candidates(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> Iterator[tuple[Document, dict[str, list[ScoredSpan]]]]:
        """Each input document with its scored entity candidates (spans whose best label is
        an entity) by example id, before decoding; in input order."""
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
        sizes = [
            (len(item.chunks[i].input_ids), len(item.chunks[i].char_spans)) for item, i in queue
        ]
        for batch in plan_batches(sizes, self.batch_size, self.max_batch_tokens, self.max_padding):
            self._run([queue[i] for i in batch])

    def _finished(
        self, pending: deque[_Pending], progress: Callable[[int], None] | None
    ) -> Iterator[tuple[Document, dict[str, list[ScoredSpan]]]]:
        while pending and pending[0].done():
            item = pending.popleft()
            if progress is not None:
                progress(len(item.document.examples))
            yield self._assemble(item)

    @torch.inference_mode()
    def _run(self, batch: list[tuple[_Pending, int]]) -> None:
        if self.span_model.onnx_path is None:
            self.span_model.model.eval()
        chunks = [item.chunks[i] for item, i in batch]
        device = self.span_model.device
        inputs = {k: v.to(device) for k, v in self.collator(chunks).items() if k != "labels"}
        with torch.autocast(
            device.type, dtype=PRECISIONS[self.precision], enabled=self.precision != "fp32"
        ):
            logits = self.forward(**inputs)
        for (item, i), scored in zip(batch, score_chunks(chunks, logits), strict=True):
            item.scored[i] = scored

    def _assemble(self, item: _Pending) -> tuple[Document, dict[str, list[ScoredSpan]]]:
        by_example: dict[str, list[ScoredSpan]] = {}
        for chunk, spans in zip(item.chunks, item.scored, strict=True):
            entities = [span for span in spans or [] if span.label_id != 0]
            by_example.setdefault(chunk.example_id, []).extend(entities)
        return item.document, by_example


def score_chunks(chunks: list[SpanChunk], logits: torch.Tensor) -> list[list[ScoredSpan]]:
    """The best label of each span of each chunk, from the batch's logits (padding rows
    ignored), with one transfer from the device for the whole batch."""
    logits = logits.float()
    best_logits, best_labels = logits.max(dim=-1)
    probabilities = torch.softmax(logits, dim=-1).gather(-1, best_labels[..., None]).squeeze(-1)
    rows = zip(best_labels.tolist(), probabilities.tolist(), best_logits.tolist(), strict=True)
    return [
        [
            ScoredSpan(start, end, label, probability, logit)
            for (start, end), label, probability, logit in zip(
                chunk.char_spans, labels, chunk_probabilities, chunk_logits, strict=False
            )
        ]
        for chunk, (labels, chunk_probabilities, chunk_logits) in zip(chunks, rows, strict=True)
    ]


def decoded_document(
    document: Document,
    candidates: dict[str, list[ScoredSpan]],
    id2label: dict[int, str],
    nested: bool = False,
    threshold: float = 0.0,
) -> Document:
    """The document with its entities replaced by the decoded predictions. Candidates
    scored below ``threshold`` are dropped before decoding, so they block no other span."""
    examples = []
    for example in document.examples:
        kept = [c for c in candidates.get(example.id, []) if c.probability >= threshold]
        decoded = decode_spans(kept, nested=nested)
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
