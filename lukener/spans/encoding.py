"""The one span encoder: documents to ``LukeForEntitySpanClassification`` inputs.

Each sentence is tokenized (``raw`` or ``words``), extended with document context up
to the maximum length, balanced left and right, and every span of at most
``max_mention_length`` subwords inside the sentence whose ends fall on word boundaries
becomes a candidate. Candidates are cut into chunks of ``max_entity_length``; a chunk is
one model input. Entity inputs follow Hugging Face's LUKE convention (positions count
the leading special token, ``entity_end_positions`` inclusive, ``entity_position_ids``
padded with -1). Any fast tokenizer with offsets works.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lukener.data.documents import Document, Entity, Example
from lukener.spans.settings import EncodingSettings

# Markers that tokenizers put before a word (SentencePiece, byte-level BPE); they carry
# no character of the text, whatever offsets the tokenizer gives them.
_WORD_MARKERS = "▁Ġ"


@dataclass
class TokenizedSentence:
    """Subword ids of one sentence with each token's character span in the sentence."""

    ids: list[int]
    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class SpanChunk:
    """One model input: a sentence in its context and up to ``max_entity_length`` spans."""

    example_id: str
    input_ids: list[int]
    entity_start_positions: list[int]
    entity_end_positions: list[int]
    entity_position_ids: list[list[int]]
    char_spans: list[tuple[int, int]]
    labels: list[int] | None = None


@dataclass
class EncodingStats:
    """What encoding could not represent; reported, and still counted by the metric."""

    sentences: int = 0
    truncated_sentences: int = 0
    candidate_spans: int = 0
    chunks: int = 0
    gold_entities: int = 0
    unencodable: list[tuple[str, Entity]] = field(default_factory=list)

    def add(self, other: EncodingStats) -> None:
        self.sentences += other.sentences
        self.truncated_sentences += other.truncated_sentences
        self.candidate_spans += other.candidate_spans
        self.chunks += other.chunks
        self.gold_entities += other.gold_entities
        self.unencodable.extend(other.unencodable)


def context_split(room: int, left_available: int, right_available: int) -> tuple[int, int]:
    """Context tokens taken ``(left, right)`` of a sentence with ``room`` to fill.

    As LUKE's readers and naist-nlp/luke-ner split it: the shorter side gets up to half the
    room and the other side the rest, so with an odd room and at least as many tokens on the
    left as on the right, the extra token goes to the left.
    """
    if left_available < right_available:
        left = min(left_available, room // 2)
        return left, min(right_available, room - left)
    right = min(right_available, room // 2)
    return min(left_available, room - right), right


class SpanEncoder:
    """Encodes documents into :class:`SpanChunk` inputs for a given tokenizer and settings.

    ``label2id`` (label 0 = non-entity) is needed only to attach training labels. For
    training, ``negative_rate`` below 1 keeps that share of non-entity spans (drawn with a
    seeded generator) and every gold span: fewer inputs per sentence, the usual negative
    sampling of span-based NER.
    """

    def __init__(
        self,
        tokenizer: Any,
        settings: EncodingSettings,
        label2id: dict[str, int] | None = None,
        negative_rate: float = 1.0,
        seed: int = 0,
    ):
        if negative_rate < 1.0 and label2id is None:
            raise ValueError("negative sampling needs labels")
        self.negative_rate = negative_rate
        self.random = random.Random(seed)
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("lukener needs a fast tokenizer (one with offsets)")
        # A tokenizer file may switch on padding or truncation (sentence-transformers
        # exports pad to 128): the encoder wants each text's own tokens, nothing added.
        self.backend = copy.deepcopy(tokenizer.backend_tokenizer)
        self.backend.no_padding()
        self.backend.no_truncation()
        self.settings = settings
        self.label2id = label2id
        first = tokenizer.cls_token_id
        last = tokenizer.sep_token_id
        first = first if first is not None else tokenizer.bos_token_id
        last = last if last is not None else tokenizer.eos_token_id
        if first is None or last is None:
            raise TypeError("the tokenizer has no CLS/BOS and SEP/EOS tokens")
        self.first_token_id: int = first
        self.last_token_id: int = last
        self.max_tokens = settings.max_sequence_length - 2

    # Tokenization -------------------------------------------------------------------

    def tokenize(self, examples: Sequence[Example]) -> list[TokenizedSentence]:
        """Tokenize the sentences of one document with one call to the fast tokenizer."""
        segments: list[str] = []
        plans: list[list[tuple[int, int]]] = []  # per sentence: (segment shift, word start)
        for example in examples:
            plan: list[tuple[int, int]] = []
            if self.settings.tokenization == "words":
                for start, end in example.word_spans():
                    segments.append(" " + example.text[start:end])
                    plan.append((start - 1, start))
            elif self.settings.pretokenize:
                previous_end = 0
                for start, end in example.word_spans():
                    segments.append(example.text[previous_end:end])
                    plan.append((previous_end, start))
                    previous_end = end
            else:
                segments.append(example.text)
                plan.append((0, 0))
            plans.append(plan)
        encodings = self.backend.encode_batch(segments, add_special_tokens=False)

        sentences: list[TokenizedSentence] = []
        index = 0
        for example, plan in zip(examples, plans, strict=True):
            text = example.text
            sentence = TokenizedSentence([], [], [])
            for k, (shift, word_start) in enumerate(plan):
                encoding = encodings[index]
                index += 1
                segment = segments[index - 1]
                for position, (token_id, token, (start, end)) in enumerate(
                    zip(encoding.ids, encoding.tokens, encoding.offsets, strict=True)
                ):
                    marker = token.strip(_WORD_MARKERS) == ""
                    if (
                        marker
                        and position == 0
                        and k > 0
                        and self.settings.tokenization == "raw"
                        and not segment[:1].isspace()
                    ):
                        # A marker the tokenizer prepended to a word glued to the previous
                        # one (text without spaces): not part of the raw text's tokens.
                        continue
                    if marker:
                        start = end = word_start - shift if position == 0 else start
                    start, end = max(start + shift, word_start), max(end + shift, word_start)
                    # SentencePiece offsets include the space a piece's marker stands for.
                    while start < end and text[start].isspace():
                        start += 1
                    sentence.ids.append(token_id)
                    sentence.starts.append(start)
                    sentence.ends.append(max(start, end))
            sentences.append(sentence)
        return sentences

    # Spans ------------------------------------------------------------------------

    def candidate_spans(
        self, example: Example, tokens: TokenizedSentence
    ) -> list[tuple[int, int, int, int]]:
        """``(first token, last token, char start, char end)`` of every candidate span."""
        n = len(tokens)
        starts, ends = tokens.starts, tokens.ends
        word_starts: set[int] | None = None
        word_ends: set[int] | None = None
        if example.word_positions is not None:
            word_starts = {s for s, _ in example.word_positions}
            word_ends = {e for _, e in example.word_positions}
        can_start = [ends[i] > starts[i] and (i == 0 or ends[i - 1] <= starts[i]) for i in range(n)]
        can_end = [
            ends[i] > starts[i] and (i == n - 1 or starts[i + 1] >= ends[i]) for i in range(n)
        ]
        spans = []
        for i in range(n):
            if not can_start[i] or (word_starts is not None and starts[i] not in word_starts):
                continue
            for j in range(i, min(n, i + self.settings.max_mention_length)):
                if can_end[j] and (word_ends is None or ends[j] in word_ends):
                    spans.append((i, j, starts[i], ends[j]))
        return spans

    def _context(
        self, flat_ids: list[int], starts: list[int], index: int
    ) -> tuple[list[int], int, int]:
        """Token ids of sentence ``index`` in its document context, with the sentence's
        offset in them and how many of its tokens fit. ``flat_ids`` holds the document's
        sentences one after another, sentence ``k`` from ``starts[k]`` to ``starts[k + 1]``."""
        begin, end = starts[index], starts[index + 1]
        own = end - begin
        if own >= self.max_tokens:
            return flat_ids[begin : begin + self.max_tokens], 0, self.max_tokens
        room = self.max_tokens - own
        left, right = context_split(room, begin, len(flat_ids) - end)
        return flat_ids[begin - left : end + right], left, own

    def encode_document(self, document: Document) -> tuple[list[SpanChunk], EncodingStats]:
        """All chunks of a document, with what could not be encoded."""
        stats = EncodingStats()
        sentences = self.tokenize(document.examples)
        flat_ids = [token for sentence in sentences for token in sentence.ids]
        starts = [0]
        for sentence in sentences:
            starts.append(starts[-1] + len(sentence))
        chunks: list[SpanChunk] = []
        chunk_size = self.settings.max_entity_length
        for index, (example, tokens) in enumerate(zip(document.examples, sentences, strict=True)):
            stats.sentences += 1
            stats.gold_entities += len(example.entities)
            context_ids, offset, kept = self._context(flat_ids, starts, index)
            if kept < len(tokens):
                stats.truncated_sentences += 1
            spans = [s for s in self.candidate_spans(example, tokens) if s[1] < kept]
            stats.candidate_spans += len(spans)
            encodable = {(s[2], s[3]) for s in spans}
            gold: dict[tuple[int, int], int] = {}
            for entity in example.entities:
                key = (entity.start, entity.end)
                if key not in encodable or key in gold:
                    stats.unencodable.append((example.id, entity))
                elif self.label2id is not None:
                    gold[key] = self.label2id[entity.label]
            input_ids = [self.first_token_id, *context_ids, self.last_token_id]
            shift = offset + 1  # the leading special token
            if self.negative_rate < 1.0:
                spans = [
                    s
                    for s in spans
                    if (s[2], s[3]) in gold or self.random.random() < self.negative_rate
                ]
            for begin in range(0, len(spans), chunk_size):
                part = spans[begin : begin + chunk_size]
                chunks.append(
                    SpanChunk(
                        example_id=example.id,
                        input_ids=input_ids,
                        entity_start_positions=[i + shift for i, _, _, _ in part],
                        entity_end_positions=[j + shift for _, j, _, _ in part],
                        entity_position_ids=[
                            self._position_ids(i + shift, j + shift) for i, j, _, _ in part
                        ],
                        char_spans=[(s, e) for _, _, s, e in part],
                        labels=None
                        if self.label2id is None
                        else [gold.get((s, e), 0) for _, _, s, e in part],
                    )
                )
        stats.chunks = len(chunks)
        return chunks, stats

    def _position_ids(self, first: int, last: int) -> list[int]:
        size = self.settings.max_mention_length
        positions = list(range(first, last + 1))[:size]
        return positions + [-1] * (size - len(positions))
